//! A Debian repository as a whole: for each suite, fetch the signed `InRelease`, verify it
//! against the keyring and its validity dates, then fetch each component's `Packages`
//! index, check it against the signed hashes, and parse it. [`config_from_apt`] builds
//! the configuration from the machine's apt sources.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::cache::{Cache, Download};
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
    /// The release's security suite has neither `InRelease` nor `Release` where it was
    /// looked for: an image built without it would miss Debian's security updates.
    #[error("security suite {suite} is not at {url} (no InRelease or Release)")]
    MissingSecuritySuite {
        /// The suite (`trixie-security`).
        suite: String,
        /// The suite's directory URL.
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

impl RepoError {
    /// What the user can do about the error, when there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            RepoError::MissingSecuritySuite { suite, .. } => Some(format!(
                "Debian publishes security updates in a separate archive: list it in the apt \
                 sources (a `*-security` entry) or pass --security-mirror URI (the directory \
                 holding dists/{suite}); to go without security updates, say so with \
                 --no-security or `security = false` in [debian]"
            )),
            _ => None,
        }
    }
}

/// Where a release's `-security` suite comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Security {
    /// From the apt sources, the way apt finds it: the entry listing `CODENAME-security`,
    /// else the base URI of any Debian release's `*-security` entry (one archive serves
    /// every release); with no such entry, from the main mirror.
    #[default]
    Apt,
    /// From this base URI (`--security-mirror`).
    Mirror(String),
    /// Left out, because the spec or the user said so.
    Off,
}

/// Where and what to fetch.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    /// Base URI, e.g. `http://127.0.0.1:8080/debian` or `file:///srv/debian`.
    pub mirror: String,
    /// e.g. `bookworm`, `bookworm-updates`, `bookworm-security`. The first and any
    /// `-security` suite are required; the others are skipped with a warning when the
    /// mirror lacks them.
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

/// The verified package records of every suite (as [`PackageRecord`]s, or whatever
/// [`fetch_index_map`] was told to keep of each paragraph).
#[derive(Debug, Clone)]
pub struct RepoIndex<T = PackageRecord> {
    /// The suites, in configuration order (those the mirror lacks are left out).
    pub suites: Vec<SuiteIndex>,
    /// Every record of every suite's indexes, suite by suite.
    pub packages: Vec<T>,
    /// Parallel to `packages`: index into `suites` of the suite each record came from.
    pub origin: Vec<usize>,
}

impl<T> Default for RepoIndex<T> {
    fn default() -> Self {
        RepoIndex {
            suites: Vec::new(),
            packages: Vec::new(),
            origin: Vec::new(),
        }
    }
}

impl<T> RepoIndex<T> {
    /// The suite that package `i` came from.
    pub fn suite_of(&self, i: usize) -> &SuiteIndex {
        &self.suites[self.origin[i]]
    }
}

impl RepoIndex {
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

/// How [`fetch_index_with`] gets and keeps the indexes.
#[derive(Default, Clone, Copy)]
pub struct IndexOptions<'a> {
    /// Where the index files are kept under their SHA-256 (as the verified release file
    /// lists it): while the release file names the same index, nothing is downloaded.
    pub cache: Option<&'a Cache>,
    /// Keeps only the records whose paragraph this accepts; the others are parsed no
    /// further and never held. `None` keeps every record.
    pub keep: Option<&'a (dyn Fn(&control::Paragraph) -> bool + Sync)>,
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
    fetch_index_with(cfg, arch, IndexOptions::default(), reporter)
}

/// [`fetch_index`], with the indexes kept in a cache and only some records parsed.
pub fn fetch_index_with(
    cfg: &RepoConfig,
    arch: &str,
    opts: IndexOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<RepoIndex, RepoError> {
    let keep = opts.keep;
    let map = |p: &control::Paragraph| -> Result<Option<PackageRecord>, PackagesError> {
        keep.is_none_or(|k| k(p))
            .then(|| PackageRecord::from_paragraph(p))
            .transpose()
    };
    fetch_index_map(cfg, arch, opts.cache, &map, reporter)
}

/// What [`fetch_index_map`] keeps of each paragraph of an index (`None`: nothing).
pub type MapRecord<'a, T> =
    dyn Fn(&control::Paragraph) -> Result<Option<T>, PackagesError> + Sync + 'a;

/// [`fetch_index`], keeping of each record what `map` makes of its paragraph, with the
/// indexes kept in `cache` when given (see [`IndexOptions::cache`]). Every index is
/// parsed as a stream, never held whole; what `map` returned for an index is kept only
/// once the whole decompressed text has matched the signed release file's hash where it
/// lists one.
pub fn fetch_index_map<T: Send>(
    cfg: &RepoConfig,
    arch: &str,
    cache: Option<&Cache>,
    map: &MapRecord<'_, T>,
    reporter: &dyn Reporter,
) -> Result<RepoIndex<T>, RepoError> {
    if cfg.suites.is_empty() {
        return Err(RepoError::NoSuites);
    }
    // The other suites on threads of their own: their release files and indexes are
    // fetched, verified and parsed while the first suite's (the main index) downloads.
    // The first stays on this thread, so that its records, by far the most, come from
    // this thread's allocator arena: the arenas of short-lived threads keep what they
    // freed, and resolving a second platform on fresh threads held both platforms'
    // records at once (two platforms' relock: 103 -> 168 MiB). The result is what
    // fetching them one after another gave: the suites in configuration order, and the
    // first failure in that order.
    let fetched: Vec<Result<Option<SuiteRecords<T>>, RepoError>> = std::thread::scope(|scope| {
        let others: Vec<_> = cfg
            .suites
            .iter()
            .enumerate()
            .skip(1)
            .map(|(n, suite)| {
                scope.spawn(move || fetch_suite(cfg, n, suite, arch, cache, map, reporter))
            })
            .collect();
        let first = fetch_suite(cfg, 0, &cfg.suites[0], arch, cache, map, reporter);
        std::iter::once(first)
            .chain(
                others
                    .into_iter()
                    .map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            )
            .collect()
    });
    let mut index = RepoIndex::default();
    for suite in fetched {
        let Some((suite_index, records)) = suite? else {
            continue;
        };
        let at = index.suites.len();
        index.origin.extend(std::iter::repeat_n(at, records.len()));
        append(&mut index.packages, records);
        index.suites.push(suite_index);
    }
    Ok(index)
}

/// A verified suite and what `map` kept of the records of its indexes.
type SuiteRecords<T> = (SuiteIndex, Vec<T>);

/// Fetches and verifies the release file of `suite`, the `n`th configured, then its
/// indexes for `arch`; `None` when the suite is optional and the mirror lacks it.
fn fetch_suite<T>(
    cfg: &RepoConfig,
    n: usize,
    suite: &str,
    arch: &str,
    cache: Option<&Cache>,
    map: &MapRecord<'_, T>,
    reporter: &dyn Reporter,
) -> Result<Option<SuiteRecords<T>>, RepoError> {
    let required = n == 0 || suite.ends_with("-security");
    let Some((suite_index, no_all)) = fetch_release(cfg, suite, required, reporter)? else {
        return Ok(None);
    };
    let release = &suite_index.release;
    if !release.architectures.is_empty() && !release.architectures.iter().any(|a| a == arch) {
        return Err(RepoError::Architecture {
            suite: suite.to_string(),
            arch: arch.to_string(),
        });
    }
    // Like apt: `binary-all` only where the release offers architecture `all` and does
    // not fold its packages into the per-architecture indexes.
    let fetch_all_index = arch != "all"
        && !no_all
        && (release.architectures.is_empty() || release.architectures.iter().any(|a| a == "all"));
    let mut records = Vec::new();
    for component in &cfg.components {
        let dir = format!("{component}/binary-{arch}");
        let (path, entry) = pick_index(release, &dir).ok_or_else(|| RepoError::NoIndex {
            suite: suite.to_string(),
            dir: dir.clone(),
        })?;
        append(
            &mut records,
            fetch_packages(&suite_index, &path, &entry, cache, map, reporter)?,
        );
        let all_dir = format!("{component}/binary-all");
        if fetch_all_index && let Some((path, entry)) = pick_index(release, &all_dir) {
            append(
                &mut records,
                fetch_packages(&suite_index, &path, &entry, cache, map, reporter)?,
            );
        }
    }
    Ok(Some((suite_index, records)))
}

/// Appends `more` to `into`, moving `more`'s buffer when `into` is empty: an index of
/// 60,000 records is not copied (and held twice) on its way into the result.
fn append<T>(into: &mut Vec<T>, more: Vec<T>) {
    if into.is_empty() {
        *into = more;
    } else {
        into.extend(more);
    }
}

/// The preferred index under `dir` that the release lists: `.gz`, then `.xz`, then plain.
///
/// gzip first: Debian's main index is 12 MB as gzip and 9 MB as xz, but inflating its
/// 50 MB of text takes a quarter of the time xz needs (measured on 2 cores: 0.1 s against
/// 0.45 s), more than the extra 3 MB cost on any link of 10 MB/s or more; a resolve that
/// finds the index in the cache reads its decompressed copy and decodes neither.
fn pick_index(release: &Release, dir: &str) -> Option<(String, FileHash)> {
    ["Packages.gz", "Packages.xz", "Packages"]
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
    let (data, verified) = match fetched {
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
            (data, verified)
        }
        Err(FetchError::NotFound { .. }) => {
            let release_url = dist_url(base, suite, "Release");
            let data = match http::fetch_bytes(&release_url, limit) {
                Ok(data) => data,
                Err(FetchError::NotFound { .. }) => {
                    if suite.ends_with("-security") {
                        return Err(RepoError::MissingSecuritySuite {
                            suite: suite.to_string(),
                            url: dist_url(base, suite, ""),
                        });
                    }
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
            (data, verified)
        }
        Err(e) => return Err(fetch_err(e)),
    };
    let para = control::paragraphs(verified.signed_text.as_bytes(), control::Options::default())
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
fn fetch_packages<T>(
    suite: &SuiteIndex,
    path: &str,
    entry: &FileHash,
    cache: Option<&Cache>,
    map: &MapRecord<'_, T>,
    reporter: &dyn Reporter,
) -> Result<Vec<T>, RepoError> {
    let release = &suite.release;
    let url = dist_url(&suite.base_uri, &suite.suite, path);
    let index_err = |source| RepoError::Index {
        suite: suite.suite.clone(),
        path: path.to_string(),
        url: url.clone(),
        source: Box::new(source),
    };
    // For an xz index, fastest: the decompressed text kept (as zstd) by an earlier run,
    // checked against the hash the verified release file gives for it; xz costs ten
    // times more to decode. A gzip index is not copied: inflated on a thread of its own
    // beside the parser, it resolves as fast as the copy would (303 ms either way for
    // bookworm, idle, 2 cores), and the copy cost a cold resolve 75 ms of CPU (zstd)
    // and 13 MB of cache.
    let plain_path = path
        .strip_suffix(".xz")
        .or_else(|| path.strip_suffix(".gz"))
        .unwrap_or(path);
    let plain_entry = release
        .file(plain_path)
        .filter(|_| Compression::from_path(path) == Compression::Xz);
    let copy = match (cache, plain_entry) {
        (Some(c), Some(plain)) if http::is_sha256_hex(&plain.sha256) => {
            let copy = c
                .root()
                .join("derived/packages-zst")
                .join(plain.sha256.to_ascii_lowercase());
            if let Some(records) = read_plain_copy(&copy, plain, map) {
                return Ok(records);
            }
            Some((c, copy))
        }
        _ => None,
    };
    let compression = Compression::from_path(path);
    let parse = |reader: Box<dyn std::io::Read + Send + '_>| match &copy {
        None => parse_map(reader, compression, None, map).map(|parsed| (parsed, None)),
        Some((cache, copy)) => parse_keeping_copy(reader, compression, cache, copy, map),
    };
    // The cache re-checks the hash, which the verified release file gave; the index is
    // then read from its file as it is parsed, never held whole.
    let cached = cache
        .and_then(|c| c.get(&entry.sha256, reporter))
        .and_then(|p| fs_err::File::open(p).ok())
        .filter(|f| f.metadata().is_ok_and(|m| m.len() == entry.size));
    let parsed = match cached {
        Some(file) => parse(Box::new(std::io::Read::take(file, entry.size))),
        None => {
            let data = download_index(suite, path, entry, &url, reporter)?;
            if let Some(c) = cache
                && let Err(e) = c.put(&entry.sha256, &data)
            {
                reporter.warn(&format!("cannot keep {url} in the cache: {e}"));
            }
            parse(Box::new(&data[..]))
        }
    };
    let ((records, plain_size, plain_sha256), kept) = parsed.map_err(index_err)?;
    if let Some(Err(e)) = kept {
        reporter.warn(&format!("cannot keep a copy of {url} in the cache: {e}"));
    }
    // Where the release also lists the uncompressed index, check that too.
    if compression != Compression::None
        && let Some(listed) = release.file(plain_path)
    {
        if listed.size != plain_size {
            return Err(index_err(PackagesError::SizeMismatch {
                path: plain_path.to_string(),
                expected: listed.size,
                actual: plain_size,
            }));
        }
        if !listed.sha256.eq_ignore_ascii_case(&plain_sha256) {
            return Err(index_err(PackagesError::HashMismatch {
                path: plain_path.to_string(),
                expected: listed.sha256.clone(),
                actual: plain_sha256,
            }));
        }
    }
    Ok(records)
}

/// The records `keep` accepts from the zstd copy of a decompressed index at `copy`, when
/// there is one and it decompresses to exactly the text the release file lists; else
/// `None`, and a damaged copy is removed.
fn read_plain_copy<T>(copy: &Path, plain: &FileHash, map: &MapRecord<'_, T>) -> Option<Vec<T>> {
    let file = fs_err::File::open(copy).ok()?;
    let parsed = zstd::stream::read::Decoder::new(file)
        .map_err(PackagesError::Io)
        .and_then(|r| {
            with_read_ahead(Box::new(r), |r| {
                packages::parse_reader_map(r, Compression::None, None, map)
            })
        });
    match parsed {
        Ok((records, size, sha))
            if size == plain.size && sha.eq_ignore_ascii_case(&plain.sha256) =>
        {
            Some(records)
        }
        _ => {
            let _ = fs_err::remove_file(copy);
            None
        }
    }
}

type Parsed<T> = (Vec<T>, u64, String);

/// How keeping the decompressed copy of an index went (`None`: no copy was attempted).
type CopyKept = Option<Result<(), std::io::Error>>;

/// Decompresses what `data` yields as a stream and parses it with `map` (see
/// [`packages::parse_reader_map`]).
fn parse_map<T>(
    data: Box<dyn std::io::Read + Send + '_>,
    compression: Compression,
    tee: Option<&mut dyn std::io::Write>,
    map: &MapRecord<'_, T>,
) -> Result<Parsed<T>, PackagesError> {
    let reader = decoder(data, compression);
    if compression == Compression::None {
        let mut reader = reader;
        return packages::parse_reader_map(&mut reader, compression, tee, map);
    }
    with_read_ahead(reader, |r| {
        packages::parse_reader_map(r, compression, tee, map)
    })
}

/// Runs `f` over what `reader` yields, read (so decompressed) ahead by a thread of its
/// own, a few chunks at a time: inflating an index and parsing it use both cores.
/// Read errors reach `f` as they were; once `f` returns, the thread stops.
fn with_read_ahead<R>(
    reader: Box<dyn std::io::Read + Send + '_>,
    f: impl FnOnce(&mut dyn std::io::Read) -> R,
) -> R {
    // Small chunks: with 1 MiB ones, resolving two platforms peaked 18 MiB higher
    // (glibc serves blocks that size from its arenas once one was freed).
    const CHUNK: usize = 64 << 10;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(16);
        scope.spawn(move || {
            let mut reader = reader;
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let mut filled = 0;
                let result = loop {
                    match reader.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == CHUNK {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled);
                let done = filled < CHUNK || result.is_err();
                if filled > 0 && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
                if done {
                    return;
                }
            }
        });
        let mut ahead = ReadAhead {
            rx,
            chunk: Vec::new(),
            at: 0,
        };
        f(&mut ahead)
    })
}

/// The reading end of [`with_read_ahead`].
struct ReadAhead {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => (self.chunk, self.at) = (chunk?, 0),
                // The thread is done: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn decoder<'a>(
    data: Box<dyn std::io::Read + Send + 'a>,
    compression: Compression,
) -> Box<dyn std::io::Read + Send + 'a> {
    match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
        Compression::None => data,
    }
}

/// Parses `data` as [`packages::parse_stream`] does, writing the decompressed text, as
/// zstd, to a temporary file that becomes `copy` once the whole index has parsed (the
/// caller still checks it against the release file: a copy is only ever read back
/// through that check). The second value says how keeping the copy went.
fn parse_keeping_copy<T>(
    data: Box<dyn std::io::Read + Send + '_>,
    compression: Compression,
    cache: &Cache,
    copy: &Path,
    map: &MapRecord<'_, T>,
) -> Result<(Parsed<T>, CopyKept), PackagesError> {
    if compression == Compression::None {
        return Ok((parse_map(data, compression, None, map)?, None));
    }
    let tmp_dir = cache.root().join("tmp");
    let writer = fs_err::create_dir_all(&tmp_dir)
        .and_then(|_| {
            tempfile::Builder::new()
                .prefix(".index-")
                .permissions(plinth_core::dirs::umask_mode(0o666))
                .tempfile_in(&tmp_dir)
        })
        .and_then(|tmp| Ok((zstd::stream::write::Encoder::new(tmp.reopen()?, 1)?, tmp)));
    let (encoder, tmp) = match writer {
        Ok(w) => w,
        Err(e) => {
            return Ok((parse_map(data, compression, None, map)?, Some(Err(e))));
        }
    };
    let reader = decoder(data, compression);
    // A copy that cannot be written (a full disk) costs the next run time, not this one
    // its result: write errors stop the copy, not the parse. The copy is compressed on a
    // thread of its own, beside the decompression and parsing of this one.
    let (parsed, kept) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let compressor = scope.spawn(move || -> Result<(), std::io::Error> {
            use std::io::Write as _;
            let mut encoder = encoder;
            for chunk in rx {
                encoder.write_all(&chunk)?;
            }
            encoder.finish().map(|_| ())
        });
        let mut tee = ToThread { tx: Some(tx) };
        let parsed = with_read_ahead(reader, |r| {
            packages::parse_reader_map(r, compression, Some(&mut tee), map)
        });
        drop(tee);
        let kept = compressor
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the index copy's thread panicked")));
        (parsed, kept)
    });
    let parsed = parsed?;
    let kept = kept
        .and_then(|_| fs_err::create_dir_all(copy.parent().unwrap_or(copy)))
        .and_then(|_| tmp.persist(copy).map(|_| ()).map_err(|e| e.error));
    Ok((parsed, Some(kept)))
}

/// Hands what is written to a thread over a bounded channel; once that thread has
/// stopped (a write error), the rest is dropped, never reported to the caller.
struct ToThread {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
}

impl std::io::Write for ToThread {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(tx) = &self.tx
            && tx.send(buf.to_vec()).is_err()
        {
            self.tx = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Downloads the index at `path`, by hash when the release offers it, checking size and
/// SHA-256 while streaming.
fn download_index(
    suite: &SuiteIndex,
    path: &str,
    entry: &FileHash,
    url: &str,
    reporter: &dyn Reporter,
) -> Result<Vec<u8>, RepoError> {
    let release = &suite.release;
    let url = url.to_string();
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
    Ok(data)
}

/// Builds a [`RepoConfig`] from the apt sources under `root` for the Debian release
/// `codename`. The main mirror is the first binary source listing `codename`, else the
/// first listing another Debian release (or its `-updates`) with component `main`: one
/// archive serves every release. `-updates` comes with it when that source lists it; the
/// security suite as `security` says ([`add_security`]). Component `main`; the keys
/// those sources trust.
pub fn config_from_apt(
    root: &Path,
    codename: &str,
    security: &Security,
    now: SystemTime,
) -> Result<RepoConfig, RepoError> {
    let entries = binary_entries(root)?;
    let lists = |suite: &str| entries.iter().find(|e| e.suites.iter().any(|s| s == suite));
    let (main, updates) = match lists(codename) {
        Some(main) => (main, lists(&format!("{codename}-updates")).is_some()),
        None => {
            let main = entries
                .iter()
                .find(|e| {
                    e.components.iter().any(|c| c == "main")
                        && e.suites.iter().any(|s| debian_release_of(s, "").is_some())
                })
                .ok_or_else(|| RepoError::NoSource {
                    codename: codename.to_string(),
                })?;
            let updates = main
                .suites
                .iter()
                .any(|s| debian_release_of(s, "-updates").is_some());
            (main, updates)
        }
    };
    let mut cfg = RepoConfig {
        mirror: main.uri.clone(),
        suites: vec![codename.to_string()],
        components: vec!["main".to_string()],
        keyring: keyring_of(main, root)?,
        now,
        suite_mirrors: BTreeMap::new(),
    };
    if updates {
        cfg.suites.push(format!("{codename}-updates"));
    }
    add_security_from(&mut cfg, &entries, root, codename, security)?;
    Ok(cfg)
}

/// Adds `codename`'s security suite to `cfg` as `security` says: from the apt sources
/// under `root` ([`Security::Apt`]: the entry listing `CODENAME-security`, else any
/// Debian `*-security` entry's base URI, trusted with its keys; with none, the main
/// mirror), from a given base URI, or not at all ([`Security::Off`]). A security suite
/// that is configured is required: [`fetch_index`] fails when it is missing.
pub fn add_security(
    cfg: &mut RepoConfig,
    root: &Path,
    codename: &str,
    security: &Security,
) -> Result<(), RepoError> {
    let entries = match security {
        Security::Apt => binary_entries(root)?,
        _ => Vec::new(),
    };
    add_security_from(cfg, &entries, root, codename, security)
}

fn add_security_from(
    cfg: &mut RepoConfig,
    entries: &[SourceEntry],
    root: &Path,
    codename: &str,
    security: &Security,
) -> Result<(), RepoError> {
    let suite = format!("{codename}-security");
    cfg.suites.retain(|s| s != &suite);
    cfg.suite_mirrors.remove(&suite);
    let uri = match security {
        Security::Off => return Ok(()),
        Security::Mirror(uri) => Some(uri.trim_end_matches('/').to_string()),
        Security::Apt => {
            let entry = entries
                .iter()
                .find(|e| e.suites.iter().any(|s| s == &suite))
                .or_else(|| {
                    entries.iter().find(|e| {
                        e.suites
                            .iter()
                            .any(|s| debian_release_of(s, "-security").is_some())
                    })
                });
            match entry {
                Some(e) => {
                    cfg.keyring.merge(keyring_of(e, root)?);
                    Some(e.uri.clone())
                }
                None => None,
            }
        }
    };
    if let Some(uri) = uri.filter(|u| u != cfg.mirror.trim_end_matches('/')) {
        cfg.suite_mirrors.insert(suite.clone(), uri);
    }
    cfg.suites.push(suite);
    Ok(())
}

fn binary_entries(root: &Path) -> Result<Vec<SourceEntry>, RepoError> {
    Ok(sources::discover(root)?
        .into_iter()
        .filter(SourceEntry::is_binary)
        .collect())
}

fn keyring_of(e: &SourceEntry, root: &Path) -> Result<Keyring, RepoError> {
    Keyring::for_source(e, root).map_err(|source| RepoError::Keyring {
        uri: e.uri.clone(),
        source: Box::new(source),
    })
}

/// The Debian release `suite` names with `suffix` (`trixie-security`, `-security` →
/// `trixie`), when it is one of Debian's.
fn debian_release_of<'a>(suite: &'a str, suffix: &str) -> Option<&'a str> {
    let codename = suite.strip_suffix(suffix)?;
    plinth_dpkg::releases::by_codename(codename).map(|_| codename)
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
        let err = config_from_apt(root, "bookworm", &Security::Apt, SystemTime::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load the keyring of apt source http://mirror.example/debian"
        );
    }

    /// Keys the loader accepts, for configurations that get as far as the keyring.
    fn with_keyring(root: &Path) {
        let key = fs_err::read(crate::keyring::DEFAULT_KEYRING);
        if let Ok(key) = key {
            write_bytes(root, "k/a.gpg", &key);
        }
    }

    fn write_bytes(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, bytes).unwrap();
    }

    /// Issue 13, point 9: with apt sources listing bookworm only, a trixie build took
    /// its security suite from the main mirror, which has none, and went on without it.
    /// The security archive's base URI is the same for every release: apt's
    /// `*-security` entry gives it.
    #[test]
    fn trixie_built_without_its_security_updates() {
        if !Path::new(crate::keyring::DEFAULT_KEYRING).is_file() {
            eprintln!("SKIPPED: no Debian archive keyring");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        with_keyring(root);
        // Signed-By paths are read under `root`.
        let keyring = Path::new("/k/a.gpg");
        write(
            root,
            "etc/apt/sources.list.d/debian.sources",
            &format!(
                "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                 Components: main\nSigned-By: {k}\n\n\
                 Types: deb\nURIs: http://security.example/debian-security/\nSuites: bookworm-security\n\
                 Components: main\nSigned-By: {k}\n",
                k = keyring.display()
            ),
        );
        let now = SystemTime::now();
        for codename in ["bookworm", "trixie"] {
            let cfg = config_from_apt(root, codename, &Security::Apt, now).unwrap();
            assert_eq!(cfg.mirror, "http://mirror.example/debian");
            assert_eq!(
                cfg.suites,
                [
                    codename.to_string(),
                    format!("{codename}-updates"),
                    format!("{codename}-security")
                ]
            );
            let sec = format!("{codename}-security");
            assert_eq!(
                cfg.mirror_for(&sec),
                "http://security.example/debian-security"
            );
            // The way --mirror goes: the security archive still comes from apt's entry.
            let mut cfg = RepoConfig {
                suites: vec![codename.to_string()],
                suite_mirrors: BTreeMap::new(),
                mirror: "http://other.example/debian".into(),
                ..cfg
            };
            add_security(&mut cfg, root, codename, &Security::Apt).unwrap();
            assert_eq!(
                cfg.mirror_for(&sec),
                "http://security.example/debian-security"
            );
            add_security(
                &mut cfg,
                root,
                codename,
                &Security::Mirror("http://s.example/".into()),
            )
            .unwrap();
            assert_eq!(cfg.suites, [codename.to_string(), sec.clone()]);
            assert_eq!(cfg.mirror_for(&sec), "http://s.example");
            add_security(&mut cfg, root, codename, &Security::Off).unwrap();
            assert_eq!(cfg.suites, [codename.to_string()]);
        }
        // Without a security entry, the security suite is looked for on the main mirror
        // (and is required there: see the repo tests).
        write(
            root,
            "etc/apt/sources.list.d/debian.sources",
            &format!(
                "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\
                 Components: main\nSigned-By: {}\n",
                keyring.display()
            ),
        );
        let cfg = config_from_apt(root, "trixie", &Security::Apt, now).unwrap();
        assert_eq!(cfg.suites, ["trixie", "trixie-security"]);
        assert_eq!(
            cfg.mirror_for("trixie-security"),
            "http://mirror.example/debian"
        );
        // A source that is not a Debian release's is not taken for the archive.
        write(
            root,
            "etc/apt/sources.list.d/debian.sources",
            "Types: deb\nURIs: http://other.example/apt\nSuites: cloud-sdk-bookworm\n\
             Components: main\n",
        );
        let err = config_from_apt(root, "trixie", &Security::Apt, now).unwrap_err();
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
