//! What the signed archive offers: the newest version of every binary and source package
//! across the configured suites (release, `-updates`, `-security`), and the Debian
//! changelog of a package, read from its `.deb`.
//!
//! Everything comes from a [`RepoIndex`] that [`crate::repo::fetch_index`] built, so the
//! records are those of `InRelease` files whose signatures checked against the keyring,
//! and each `.deb` is fetched into the content-addressed [`Cache`] and checked against the
//! SHA-256 of its index record before it is read.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::cache::{Cache, CacheError};
use crate::changelog::{self, ChangelogEntry, ChangelogError};
use crate::debfile::{DebEntry, DebEntryKind, DebError, DebLimits, read_data_streaming};
use crate::packages::PackageRecord;
use crate::repo::RepoIndex;
use plinth_core::progress::Reporter;
use plinth_dpkg::version::Version;
use sha2::{Digest, Sha256};

/// Failure while reading a package's changelog from the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The `.deb` could not be downloaded into the cache.
    #[error("cannot fetch {name}")]
    Fetch {
        /// The `.deb`'s file name (`libc6_2.36-9+deb12u14_amd64.deb`).
        name: String,
        /// What the cache reported.
        #[source]
        source: CacheError,
    },
    /// The package could not be unpacked (the error names it).
    #[error(transparent)]
    Deb(Box<DebError>),
    /// The package holds a changelog that is corrupt or over [`crate::changelog::MAX_CHANGELOG`].
    #[error("cannot read {path} of {package} {version}")]
    Changelog {
        /// The binary package.
        package: String,
        /// Its version, as written.
        version: String,
        /// The changelog's path inside the package.
        path: String,
        /// Why it could not be read.
        #[source]
        source: ChangelogError,
    },
    /// No binary of the source package carries a Debian changelog.
    #[error("{package} {version} has no Debian changelog: {reason}")]
    NoChangelog {
        /// The package (binary or source) looked at last.
        package: String,
        /// Its version, as written.
        version: String,
        /// Why nothing was found, for the message.
        reason: String,
    },
}

/// The name of the source package a record was built from.
pub fn source_name(rec: &PackageRecord) -> &str {
    rec.source.as_ref().map_or(&rec.package, |s| &s.name)
}

/// The version of the source package a record was built from (differs from the binary
/// version for binNMUs, `+bN`).
pub fn source_version(rec: &PackageRecord) -> &Version {
    rec.source
        .as_ref()
        .and_then(|s| s.version.as_ref())
        .unwrap_or(&rec.version)
}

/// The newest version of one source package in the archive.
#[derive(Debug, Clone)]
pub struct NewestSource {
    /// The source package's name.
    pub name: String,
    /// The newest source version.
    pub version: Version,
    /// The suite the newest version came from (the first suite, in configuration order,
    /// that has a binary of it).
    pub suite: String,
    /// Indexes into [`RepoIndex::packages`] of the binaries built from that source
    /// version: for each binary name, its newest record; sorted by binary name.
    pub records: Vec<usize>,
}

/// The newest binary and source versions of an index.
#[derive(Debug, Clone, Default)]
pub struct NewestVersions {
    /// Binary name → index into [`RepoIndex::packages`] of its newest record.
    pub binaries: BTreeMap<String, usize>,
    /// Source name → its newest version.
    pub sources: BTreeMap<String, NewestSource>,
}

impl NewestVersions {
    /// The newest record of binary package `name`.
    pub fn binary<'a>(&self, index: &'a RepoIndex, name: &str) -> Option<&'a PackageRecord> {
        self.binaries.get(name).map(|&i| &index.packages[i])
    }

    /// The newest version of source package `name`.
    pub fn source(&self, name: &str) -> Option<&NewestSource> {
        self.sources.get(name)
    }
}

/// The newest version of every binary and source package over all suites of `index`
/// (newest by dpkg ordering; on equal versions the earlier suite wins).
pub fn newest_versions(index: &RepoIndex) -> NewestVersions {
    let mut binaries: BTreeMap<String, usize> = BTreeMap::new();
    let mut source_version_of: HashMap<&str, (&Version, usize)> = HashMap::new();
    for (i, rec) in index.packages.iter().enumerate() {
        match binaries.get_mut(&rec.package) {
            Some(best) if index.packages[*best].version >= rec.version => {}
            Some(best) => *best = i,
            None => {
                binaries.insert(rec.package.clone(), i);
            }
        }
        let (name, version) = (source_name(rec), source_version(rec));
        match source_version_of.get_mut(name) {
            Some((best, _)) if *best >= version => {}
            Some(best) => *best = (version, i),
            None => {
                source_version_of.insert(name, (version, i));
            }
        }
    }
    // For each source at its newest version: the newest record of each binary built
    // from it.
    let mut built: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (i, rec) in index.packages.iter().enumerate() {
        let name = source_name(rec);
        if source_version_of.get(name).map(|(v, _)| *v) != Some(source_version(rec)) {
            continue;
        }
        let by_binary = built.entry(name).or_default();
        match by_binary.get_mut(rec.package.as_str()) {
            Some(best) if index.packages[*best].version >= rec.version => {}
            Some(best) => *best = i,
            None => {
                by_binary.insert(&rec.package, i);
            }
        }
    }
    let sources = built
        .into_iter()
        .map(|(name, by_binary)| {
            let records: Vec<usize> = by_binary.into_values().collect();
            let first = records
                .iter()
                .copied()
                .min_by_key(|&i| (index.origin[i], i))
                .unwrap_or(source_version_of[name].1);
            let source = NewestSource {
                name: name.to_string(),
                version: source_version(&index.packages[first]).clone(),
                suite: index.suite_of(first).suite.clone(),
                records,
            };
            (name.to_string(), source)
        })
        .collect();
    NewestVersions { binaries, sources }
}

/// A changelog read from a package of the archive.
#[derive(Debug, Clone)]
pub struct Changelog {
    /// The binary package whose `.deb` held the file.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The file's path inside the package (`usr/share/doc/libssl3/changelog.Debian.gz`).
    pub path: String,
    /// The entries, newest first.
    pub entries: Vec<ChangelogEntry>,
}

/// Most packages visited while following doc-directory symlinks.
const MAX_PACKAGES: usize = 4;
/// Most symlinks followed while resolving one path.
const MAX_HOPS: usize = 16;

/// Reads the Debian changelog of package `i` of `index`: fetches its `.deb` into `cache`
/// (checked against the record's SHA-256) and reads
/// `usr/share/doc/<package>/changelog.Debian.gz` (or `changelog.gz` for a native
/// package). When the doc directory is a symlink to another package's (policy allows
/// it for binaries of the same source), that package's `.deb` is fetched too: the one
/// built from the same source version when the index has it, else its newest.
pub fn fetch_changelog(
    index: &RepoIndex,
    i: usize,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Changelog, ArchiveError> {
    let start = &index.packages[i];
    let no_changelog = |reason: String| ArchiveError::NoChangelog {
        package: start.package.clone(),
        version: start.version.as_str().to_string(),
        reason,
    };
    let native = source_version(start).revision().is_empty();
    let mut at = i;
    let mut dir = format!("usr/share/doc/{}", start.package);
    for _ in 0..MAX_PACKAGES {
        let rec = &index.packages[at];
        match changelog_in(index, at, &dir, native, cache, reporter)? {
            Found::File(path, bytes) => {
                let entries =
                    changelog::read(&bytes).map_err(|source| ArchiveError::Changelog {
                        package: rec.package.clone(),
                        version: rec.version.as_str().to_string(),
                        path: path.clone(),
                        source,
                    })?;
                return Ok(Changelog {
                    package: rec.package.clone(),
                    version: rec.version.as_str().to_string(),
                    path,
                    entries,
                });
            }
            Found::Elsewhere { dir: target, owner } => {
                at = find_binary(index, &owner, start).ok_or_else(|| {
                    no_changelog(format!(
                        "{dir} of {} leads to /{target} of package {owner}, which the archive lacks",
                        rec.package
                    ))
                })?;
                dir = target;
            }
            Found::Nothing => {
                return Err(no_changelog(format!(
                    "{} {} ships no changelog in /{dir}",
                    rec.package,
                    rec.version.as_str()
                )));
            }
        }
    }
    Err(no_changelog(format!(
        "doc directory symlinks go through more than {MAX_PACKAGES} packages"
    )))
}

/// Reads the changelog of source package `source` at its newest version, trying its
/// binaries in order: those named in `preferred` first (say, the ones installed), then
/// the binary named like the source, then the smallest. Gives up after three binaries
/// that lack one.
pub fn fetch_source_changelog(
    index: &RepoIndex,
    source: &NewestSource,
    preferred: &[&str],
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Changelog, ArchiveError> {
    let mut candidates = source.records.clone();
    let rank = |&i: &usize| {
        let rec = &index.packages[i];
        let pref = preferred
            .iter()
            .position(|p| *p == rec.package)
            .unwrap_or(usize::MAX);
        (pref, rec.package != source.name, rec.size, i)
    };
    candidates.sort_by_key(rank);
    let mut last = None;
    for &i in candidates.iter().take(3) {
        match fetch_changelog(index, i, cache, reporter) {
            Ok(c) => return Ok(c),
            Err(e @ ArchiveError::NoChangelog { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ArchiveError::NoChangelog {
        package: source.name.clone(),
        version: source.version.as_str().to_string(),
        reason: "the archive has no binary of it".to_string(),
    }))
}

/// The index of binary `name` to follow a doc symlink of `from` into: built from the
/// same source version if the index has that, else the newest.
fn find_binary(index: &RepoIndex, name: &str, from: &PackageRecord) -> Option<usize> {
    let same_arch =
        |r: &PackageRecord| r.architecture == from.architecture || r.architecture == "all";
    index
        .packages
        .iter()
        .enumerate()
        .filter(|(_, r)| r.package == name)
        .max_by(|(_, a), (_, b)| {
            let key = |r: &PackageRecord| {
                (
                    source_name(r) == source_name(from)
                        && source_version(r) == source_version(from),
                    same_arch(r),
                )
            };
            key(a).cmp(&key(b)).then_with(|| a.version.cmp(&b.version))
        })
        .map(|(i, _)| i)
}

/// What package `i` holds under `dir`: from the cache's derived entries when an earlier
/// run read it (a package's bytes never change under its hash, so neither does what it
/// holds), else read out of its `.deb` as a stream, keeping only the changelogs' bytes,
/// and remembered. Reading a package means decompressing all of it (an 80 MB browser
/// takes seconds and, held whole, hundreds of MB): a warm run reads none.
fn changelog_in(
    index: &RepoIndex,
    i: usize,
    dir: &str,
    native: bool,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Found, ArchiveError> {
    let rec = &index.packages[i];
    let key = hex::encode(Sha256::digest(format!(
        "plinth changelog v1\n{}\n{dir}\n{native}",
        rec.sha256.to_ascii_lowercase()
    )));
    if let Some(found) = cache.derived(DERIVED, &key).and_then(|b| Found::decode(&b)) {
        return Ok(found);
    }
    let download = index.download(i);
    let path = cache
        .fetch_all(std::slice::from_ref(&download), 1, reporter)
        .map_err(|source| ArchiveError::Fetch {
            name: download.name.clone(),
            source,
        })?
        .remove(0);
    // Kept: the files a changelog path can resolve to, those named `changelog*`
    // anywhere and those right in a doc directory (through links, `changelog.gz` may be
    // `real`); not the package's programs and libraries, nor a doc directory's trees.
    let keep = |p: &str| {
        let parts: Vec<&str> = p.split('/').collect();
        parts.last().is_some_and(|b| b.starts_with("changelog"))
            || matches!(parts.as_slice(), ["usr", "share", "doc", _, _])
    };
    let entries = read_data_streaming(&path, &download.name, &DebLimits::default(), &keep)
        .map_err(|e| ArchiveError::Deb(Box::new(e)))?;
    let found = find_changelog(&entries, dir, native);
    // A cache that cannot be written costs the next run time, not this one its result.
    if let Err(e) = cache.put_derived(DERIVED, &key, &found.encode()) {
        reporter.warn(&format!(
            "cannot remember the changelog of {}: {e}",
            download.name
        ));
    }
    Ok(found)
}

/// The cache's kind of derived entry for what a package holds under its doc directory.
const DERIVED: &str = "changelog";

enum Found {
    File(String, Vec<u8>),
    /// The directory leads into `/usr/share/doc/<owner>`, which this package lacks.
    Elsewhere {
        dir: String,
        owner: String,
    },
    Nothing,
}

impl Found {
    /// `file\nPATH\nBYTES`, `elsewhere\nDIR\nOWNER\n` or `nothing\n`.
    fn encode(&self) -> Vec<u8> {
        match self {
            Found::File(path, bytes) => {
                let mut v = format!("file\n{path}\n").into_bytes();
                v.extend_from_slice(bytes);
                v
            }
            Found::Elsewhere { dir, owner } => format!("elsewhere\n{dir}\n{owner}\n").into_bytes(),
            Found::Nothing => b"nothing\n".to_vec(),
        }
    }

    fn decode(b: &[u8]) -> Option<Found> {
        let line = |b: &[u8]| -> Option<(String, usize)> {
            let n = b.iter().position(|&c| c == b'\n')?;
            Some((String::from_utf8(b[..n].to_vec()).ok()?, n + 1))
        };
        let (kind, at) = line(b)?;
        let rest = &b[at..];
        match kind.as_str() {
            "file" => {
                let (path, n) = line(rest)?;
                Some(Found::File(path, rest[n..].to_vec()))
            }
            "elsewhere" => {
                let (dir, n) = line(rest)?;
                let (owner, _) = line(&rest[n..])?;
                Some(Found::Elsewhere { dir, owner })
            }
            "nothing" => Some(Found::Nothing),
            _ => None,
        }
    }
}

/// Looks for the changelog under `dir` among a package's entries.
fn find_changelog(entries: &[DebEntry], dir: &str, native: bool) -> Found {
    let map: HashMap<&str, &DebEntryKind> =
        entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
    let names: &[&str] = if native {
        &["changelog.Debian.gz", "changelog.gz", "changelog"]
    } else {
        &["changelog.Debian.gz", "changelog.Debian"]
    };
    let own_dir = dir.split('/').nth(3).unwrap_or_default();
    for name in names {
        match lookup(&map, &format!("{dir}/{name}")) {
            Lookup::File(path, bytes) => return Found::File(path, bytes.to_vec()),
            Lookup::Missing(path) => {
                let parts: Vec<&str> = path.split('/').collect();
                if let ["usr", "share", "doc", owner, .., _file] = parts.as_slice()
                    && *owner != own_dir
                {
                    return Found::Elsewhere {
                        dir: parts[..parts.len() - 1].join("/"),
                        owner: owner.to_string(),
                    };
                }
            }
            Lookup::Loop => {}
        }
    }
    Found::Nothing
}

enum Lookup<'a> {
    /// The regular file the path resolves to, with its resolved path.
    File(String, &'a [u8]),
    /// The resolved path, which the package does not have.
    Missing(String),
    /// Too many symlinks.
    Loop,
}

/// Resolves `path` among a package's entries, following symlinks (relative and
/// absolute) and hard links.
fn lookup<'a>(map: &HashMap<&str, &'a DebEntryKind>, path: &str) -> Lookup<'a> {
    let split = |p: &str| -> VecDeque<String> {
        p.split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut todo = split(path);
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(c),
        }
        let cur = done.join("/");
        match map.get(cur.as_str()) {
            // Directories may be implicit in a tar.
            None | Some(DebEntryKind::Dir) if !todo.is_empty() => {}
            None | Some(DebEntryKind::Dir) => return Lookup::Missing(cur),
            Some(DebEntryKind::File(bytes)) if todo.is_empty() => {
                return Lookup::File(cur, bytes);
            }
            Some(DebEntryKind::File(_)) => {
                done.extend(todo);
                return Lookup::Missing(done.join("/"));
            }
            Some(DebEntryKind::Symlink(target)) | Some(DebEntryKind::Hardlink(target)) => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Lookup::Loop;
                }
                let hard = matches!(map.get(cur.as_str()), Some(DebEntryKind::Hardlink(_)));
                done.pop();
                if hard || target.starts_with('/') {
                    done.clear();
                }
                for t in split(target).into_iter().rev() {
                    todo.push_front(t);
                }
            }
        }
    }
    Lookup::Missing(done.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debfile::tests::{T, deb};
    use crate::packages::SourceRef;
    use crate::release::Release;
    use crate::repo::SuiteIndex;
    use plinth_core::progress::NoReporter;
    use sha2::{Digest, Sha256};
    use std::path::Path;

    const CHANGELOG: &str = "\
openssl (3.0.13-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.13
   - CVE-2024-0727 (PKCS12 Decoding crashes) (Closes: #1061582).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 03 Mar 2024 10:47:43 +0100

openssl (3.0.11-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2023-5363 (Incorrect cipher key and IV length processing).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 23 Oct 2023 19:52:22 +0200
";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, data).unwrap();
        gz.finish().unwrap()
    }

    fn suite(name: &str, base: &Path) -> SuiteIndex {
        SuiteIndex {
            suite: name.to_string(),
            inrelease_sha256: String::new(),
            signer: String::new(),
            date: None,
            valid_until: None,
            base_uri: format!("file://{}", base.display()),
            release: Release::default(),
        }
    }

    /// A record for `data` written under `base` (size and hash real).
    fn record(
        base: &Path,
        name: &str,
        version: &str,
        source: Option<(&str, Option<&str>)>,
        data: &[u8],
    ) -> PackageRecord {
        let filename = format!("pool/{name}_{version}.deb").replace(':', "%3a");
        fs_err::create_dir_all(base.join("pool")).unwrap();
        fs_err::write(base.join(&filename), data).unwrap();
        PackageRecord {
            package: name.to_string(),
            version: Version::parse(version).unwrap(),
            architecture: "amd64".to_string(),
            multi_arch: Default::default(),
            source: source.map(|(n, v)| SourceRef {
                name: n.to_string(),
                version: v.map(|v| Version::parse(v).unwrap()),
            }),
            depends: vec![],
            pre_depends: vec![],
            provides: vec![],
            essential: false,
            priority: None,
            filename,
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
            installed_size: None,
            maintainer: None,
            description: None,
        }
    }

    fn index(base: &Path, records: Vec<(usize, PackageRecord)>) -> RepoIndex {
        RepoIndex {
            suites: vec![suite("bookworm", base), suite("bookworm-security", base)],
            origin: records.iter().map(|(o, _)| *o).collect(),
            packages: records.into_iter().map(|(_, r)| r).collect(),
        }
    }

    #[test]
    fn newest_over_suites_and_binnmus() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let idx = index(
            b,
            vec![
                (
                    0,
                    record(
                        b,
                        "libssl3",
                        "3.0.11-1~deb12u2",
                        Some(("openssl", None)),
                        b"1",
                    ),
                ),
                (0, record(b, "openssl", "3.0.11-1~deb12u2", None, b"2")),
                (
                    1,
                    record(
                        b,
                        "libssl3",
                        "3.0.13-1~deb12u1",
                        Some(("openssl", None)),
                        b"3",
                    ),
                ),
                (1, record(b, "openssl", "3.0.13-1~deb12u1", None, b"4")),
                // A binNMU of the newer source in the first suite.
                (
                    0,
                    record(
                        b,
                        "libssl3",
                        "3.0.13-1~deb12u1+b1",
                        Some(("openssl", Some("3.0.13-1~deb12u1"))),
                        b"5",
                    ),
                ),
                (
                    0,
                    record(b, "zlib1g", "1:1.2.13.dfsg-1", Some(("zlib", None)), b"6"),
                ),
            ],
        );
        let newest = newest_versions(&idx);
        assert_eq!(
            newest.binary(&idx, "libssl3").unwrap().version.as_str(),
            "3.0.13-1~deb12u1+b1"
        );
        assert_eq!(
            newest.binary(&idx, "openssl").unwrap().version.as_str(),
            "3.0.13-1~deb12u1"
        );
        let src = newest.source("openssl").unwrap();
        assert_eq!(src.version.as_str(), "3.0.13-1~deb12u1");
        assert_eq!(src.suite, "bookworm");
        let names: Vec<&str> = src
            .records
            .iter()
            .map(|&i| idx.packages[i].version.as_str())
            .collect();
        assert_eq!(names, ["3.0.13-1~deb12u1+b1", "3.0.13-1~deb12u1"]);
        assert_eq!(
            newest.source("zlib").unwrap().version.as_str(),
            "1:1.2.13.dfsg-1"
        );
        assert!(newest.source("glibc").is_none());
        assert_eq!(newest.sources.len(), 2);
    }

    #[test]
    fn reads_changelogs_following_doc_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let gz = gzip(CHANGELOG.as_bytes());
        // libssl3's doc dir is a symlink to openssl's (another binary of the source).
        let libssl = deb(&[
            T::D("./usr/share/doc/"),
            T::L("./usr/share/doc/libssl3", "openssl"),
            T::F("./usr/lib/libssl.so.3", b"elf"),
        ]);
        let openssl = deb(&[
            T::D("./usr/share/doc/openssl/"),
            T::F("./usr/share/doc/openssl/changelog.Debian.gz", &gz),
        ]);
        // A doc dir symlink to a package the archive lacks.
        let orphan = deb(&[T::L("./usr/share/doc/orphan", "/usr/share/doc/gone")]);
        // A native package with changelog.gz, reached through an absolute symlink to a
        // hard link.
        let native = deb(&[
            T::F("./usr/share/doc/nat/real", &gz),
            T::H(
                "./usr/share/doc/nat/changelog.hard",
                "./usr/share/doc/nat/real",
            ),
            T::L(
                "./usr/share/doc/nat/changelog.gz",
                "/usr/share/doc/nat/changelog.hard",
            ),
        ]);
        let looped = deb(&[T::L("./usr/share/doc/loop", "loop")]);
        let idx = index(
            b,
            vec![
                (
                    1,
                    record(
                        b,
                        "libssl3",
                        "3.0.13-1~deb12u1",
                        Some(("openssl", None)),
                        &libssl,
                    ),
                ),
                (1, record(b, "openssl", "3.0.13-1~deb12u1", None, &openssl)),
                (0, record(b, "orphan", "1.0-1", None, &orphan)),
                (0, record(b, "nat", "2.0", None, &native)),
                (0, record(b, "loop", "1.0-1", None, &looped)),
            ],
        );
        let cache = Cache::new(b.join("cache"));
        let log = fetch_changelog(&idx, 0, &cache, &NoReporter).unwrap();
        assert_eq!(log.package, "openssl");
        assert_eq!(log.path, "usr/share/doc/openssl/changelog.Debian.gz");
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].cve_ids, ["CVE-2024-0727"]);
        // Both .debs landed in the content-addressed cache.
        assert!(cache.get(&idx.packages[0].sha256, &NoReporter).is_some());
        assert!(cache.get(&idx.packages[1].sha256, &NoReporter).is_some());

        let err = fetch_changelog(&idx, 2, &cache, &NoReporter).unwrap_err();
        assert_eq!(
            err.to_string(),
            "orphan 1.0-1 has no Debian changelog: usr/share/doc/orphan of orphan leads to \
             /usr/share/doc/gone of package gone, which the archive lacks"
        );
        let log = fetch_changelog(&idx, 3, &cache, &NoReporter).unwrap();
        assert_eq!(log.path, "usr/share/doc/nat/real");
        let err = fetch_changelog(&idx, 4, &cache, &NoReporter).unwrap_err();
        assert!(matches!(err, ArchiveError::NoChangelog { .. }), "{err}");

        let newest = newest_versions(&idx);
        let src = newest.source("openssl").unwrap();
        let log = fetch_source_changelog(&idx, src, &["libssl3"], &cache, &NoReporter).unwrap();
        assert_eq!(log.package, "openssl");
        let log = fetch_source_changelog(&idx, src, &[], &cache, &NoReporter).unwrap();
        assert_eq!(log.package, "openssl");

        // A tampered .deb is refused by its hash.
        fs_err::write(b.join(&idx.packages[2].filename), b"tampered").unwrap();
        let mut bad = idx.clone();
        bad.packages[2].sha256 = hex::encode(Sha256::digest(b"other"));
        let err = fetch_changelog(&bad, 2, &cache, &NoReporter).unwrap_err();
        assert!(matches!(err, ArchiveError::Fetch { .. }), "{err}");
    }

    /// Issue 13, point 3: every run of `--fixes-from-archive` read each outdated source's
    /// `.deb` whole into memory and decompressed all of it (600 MB resident, slower warm
    /// than cold). What a package holds under its doc directory is now remembered by the
    /// package's hash: a warm run reads no package at all.
    #[test]
    fn fixes_from_archive_reads_every_package_whole_on_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let gz = gzip(CHANGELOG.as_bytes());
        let big = vec![7u8; 4 << 20];
        let openssl = deb(&[
            T::F("./usr/lib/libcrypto.so.3", &big),
            T::D("./usr/share/doc/openssl/"),
            T::F("./usr/share/doc/openssl/changelog.Debian.gz", &gz),
        ]);
        let idx = index(
            b,
            vec![(1, record(b, "openssl", "3.0.13-1~deb12u1", None, &openssl))],
        );
        let cache = Cache::new(b.join("cache"));
        let first = fetch_changelog(&idx, 0, &cache, &NoReporter).unwrap();
        assert_eq!(first.entries.len(), 2);
        // The package leaves the cache and the archive: the second run needs neither.
        let deb = cache.blob_path(&idx.packages[0].sha256);
        fs_err::remove_file(&deb).unwrap();
        fs_err::remove_file(b.join(&idx.packages[0].filename)).unwrap();
        let second = fetch_changelog(&idx, 0, &cache, &NoReporter).unwrap();
        assert_eq!(second.path, first.path);
        assert_eq!(second.entries, first.entries);
        assert!(!deb.exists(), "nothing fetched");
        // A damaged memory of it is not trusted: the package is needed again.
        let derived = b.join("cache/derived/changelog");
        for e in fs_err::read_dir(&derived).unwrap() {
            let p = e.unwrap().path();
            let mut bytes = fs_err::read(&p).unwrap();
            let n = bytes.len();
            bytes[n - 1] ^= 1;
            fs_err::write(&p, bytes).unwrap();
        }
        let err = fetch_changelog(&idx, 0, &cache, &NoReporter).unwrap_err();
        assert!(matches!(err, ArchiveError::Fetch { .. }), "{err}");
    }
}
