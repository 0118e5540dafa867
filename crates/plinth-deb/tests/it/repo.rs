//! Fetching a signed repository and its packages into the cache, against a test
//! repository generated on the fly (served over HTTP from 127.0.0.1, and as `file://`),
//! plus one system test against the machine's configured mirror.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::*;
use plinth_core::http::VerifyError;
use plinth_core::progress::NoReporter;
use plinth_deb::cache::{Cache, CacheError, Download};
use plinth_deb::release::ReleaseError;
use plinth_deb::repo::{self, RepoConfig, RepoError, RepoIndex};

const SUITE: &str = "bookworm";
const UPDATES: &str = "bookworm-updates";

struct Fixture {
    dir: tempfile::TempDir,
    key: pgp::composed::SignedSecretKey,
    debs: Vec<TestDeb>,
    updates: Vec<TestDeb>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = key(11);
    let mut hello = TestDeb::new("hello", "1.0-1", "amd64");
    hello.depends = Some("libc6 (>= 2.36)".into());
    let debs = vec![
        TestDeb::new("libc6", "2.36-9", "amd64"),
        hello,
        TestDeb::new("tzdata", "2024a-0", "all"),
    ];
    let updates = vec![TestDeb::new("tzdata", "2025b-0", "all")];
    write_suite(dir.path(), &key, &SuiteSpec::new(SUITE, debs.clone()));
    write_suite(dir.path(), &key, &SuiteSpec::new(UPDATES, updates.clone()));
    Fixture {
        dir,
        key,
        debs,
        updates,
    }
}

fn config(mirror: String, key: &pgp::composed::SignedSecretKey, suites: &[&str]) -> RepoConfig {
    RepoConfig {
        mirror,
        suites: suites.iter().map(|s| s.to_string()).collect(),
        components: vec!["main".into()],
        keyring: keyring(key),
        now: now(),
        suite_mirrors: BTreeMap::new(),
    }
}

fn downloads(index: &RepoIndex) -> Vec<Download> {
    (0..index.packages.len())
        .map(|i| index.download(i))
        .collect()
}

fn find(index: &RepoIndex, name: &str, version: &str) -> usize {
    index
        .packages
        .iter()
        .position(|p| p.package == name && p.version.as_str() == version)
        .unwrap_or_else(|| panic!("{name} {version} not in index"))
}

/// Checks a fetched index against the fixture, then fetches every package into a fresh
/// cache twice. Returns the cache dir for further checks.
fn check_happy_path(f: &Fixture, index: &RepoIndex) {
    assert_eq!(index.suites.len(), 2);
    assert_eq!(index.packages.len(), 4);
    assert_eq!(index.origin, [0, 0, 0, 1]);
    let s = &index.suites[0];
    assert_eq!(s.suite, SUITE);
    assert_eq!(s.signer, fingerprint(&f.key));
    let inrelease = fs_err::read(f.dir.path().join("dists/bookworm/InRelease")).unwrap();
    assert_eq!(s.inrelease_sha256, sha256(&inrelease));
    assert_eq!(s.date.as_deref(), Some(DATE));
    assert_eq!(s.valid_until.as_deref(), Some(VALID_UNTIL));
    assert_eq!(s.release.codename.as_deref(), Some(SUITE));
    let hello = &index.packages[find(index, "hello", "1.0-1")];
    assert_eq!(hello.depends[0].to_string(), "libc6 (>= 2.36)");
    let tz = find(index, "tzdata", "2025b-0");
    assert_eq!(index.suite_of(tz).suite, UPDATES);
    assert!(
        index
            .url_of(tz)
            .ends_with("/pool/main/t/tzdata/tzdata_2025b-0_all.deb")
    );
    assert_eq!(index.download(tz).name, "tzdata_2025b-0_all.deb");
    assert_eq!(index.download(tz).sha256, sha256(&f.updates[0].bytes));
}

/// `requests` in order of their paths: the suites are fetched side by side, in no
/// fixed order.
fn sorted(requests: &[String]) -> Vec<String> {
    let mut requests = requests.to_vec();
    requests.sort();
    requests
}

#[test]
fn http_index_is_verified_and_debs_are_cached_once() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let rec = Recorder::default();
    let index = repo::fetch_index(
        &config(server.url(), &f.key, &[SUITE, UPDATES]),
        "amd64",
        &rec,
    )
    .unwrap();
    check_happy_path(&f, &index);
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
    // The suites are fetched side by side: each suite's release file comes before its
    // index, in whatever order the suites go.
    let requests = server.requests();
    for suite in [SUITE, UPDATES] {
        let of_suite: Vec<&String> = requests
            .iter()
            .filter(|r| r.starts_with(&format!("/dists/{suite}/")))
            .collect();
        assert_eq!(
            of_suite,
            [
                &format!("/dists/{suite}/InRelease"),
                &format!("/dists/{suite}/main/binary-amd64/Packages.xz")
            ]
        );
    }
    assert_eq!(requests.len(), 4, "{requests:?}");

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let items = downloads(&index);
    let before = server.count();
    let paths = cache.fetch_all(&items, 3, &rec).unwrap();
    assert_eq!(server.count() - before, 4);
    for (path, item) in paths.iter().zip(&items) {
        assert_eq!(sha256(&fs_err::read(path).unwrap()), item.sha256);
        assert_eq!(cache.get(&item.sha256, &NoReporter).as_ref(), Some(path));
    }
    let hello = find(&index, "hello", "1.0-1");
    assert_eq!(fs_err::read(&paths[hello]).unwrap(), f.debs[1].bytes);
    // The debs really are debs.
    let deb = plinth_deb::debfile::read_deb(
        &fs_err::read(&paths[hello]).unwrap(),
        "hello.deb",
        &plinth_deb::debfile::DebLimits::default(),
    )
    .unwrap();
    assert!(deb.control.contains("Package: hello"));

    // Second run: everything from the cache, no request at all.
    let before = server.count();
    let again = cache.fetch_all(&items, 3, &rec).unwrap();
    assert_eq!(again, paths);
    assert_eq!(server.count(), before);
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
    assert_eq!(
        files_under(&cache_dir.path().join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn file_url_index_and_downloads() {
    let f = fixture();
    let mirror = format!("file://{}", f.dir.path().display());
    let index = repo::fetch_index(
        &config(mirror, &f.key, &[SUITE, UPDATES]),
        "amd64",
        &NoReporter,
    )
    .unwrap();
    check_happy_path(&f, &index);
    let cache_dir = tempfile::tempdir().unwrap();
    let paths = Cache::new(cache_dir.path())
        .fetch_all(&downloads(&index), 2, &NoReporter)
        .unwrap();
    assert_eq!(paths.len(), 4);
    assert_eq!(files_under(cache_dir.path()).len(), 4);
}

fn fetch_err(f: &Fixture, cfg: &RepoConfig) -> RepoError {
    let server = Server::start(f.dir.path());
    let cfg = RepoConfig {
        mirror: server.url(),
        ..cfg.clone()
    };
    repo::fetch_index(&cfg, "amd64", &NoReporter).unwrap_err()
}

#[test]
fn release_signed_by_unknown_key_is_refused() {
    let f = fixture();
    let mut cfg = config(String::new(), &f.key, &[SUITE]);
    cfg.keyring = keyring(&key(99));
    let err = fetch_err(&f, &cfg);
    assert!(
        matches!(
            &err,
            RepoError::Verify { source, .. } if matches!(**source, ReleaseError::BadSignature { keys: 1 })
        ),
        "{err:?}"
    );
    let msg = chain(&err);
    assert!(
        msg.starts_with("InRelease of suite bookworm at http://127.0.0.1:"),
        "{msg}"
    );
    assert!(
        msg.ends_with("/dists/bookworm/InRelease is not trusted: no signature on release file verifies against the keyring (1 keys)"),
        "{msg}"
    );
}

#[test]
fn modified_inrelease_is_refused() {
    let f = fixture();
    let path = f.dir.path().join("dists/bookworm/InRelease");
    let text = fs_err::read_to_string(&path).unwrap();
    // Change one hex digit of the first SHA256 line.
    let line_start = text.find("SHA256:\n ").unwrap() + "SHA256:\n ".len();
    let mut bytes = text.into_bytes();
    bytes[line_start] = if bytes[line_start] == b'0' {
        b'1'
    } else {
        b'0'
    };
    fs_err::write(&path, &bytes).unwrap();
    let err = fetch_err(&f, &config(String::new(), &f.key, &[SUITE]));
    assert!(
        matches!(
            &err,
            RepoError::Verify { source, .. } if matches!(**source, ReleaseError::BadSignature { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn expired_valid_until_is_refused() {
    let f = fixture();
    let mut cfg = config(String::new(), &f.key, &[SUITE]);
    cfg.now = now() + Duration::from_secs(30 * 86400);
    let err = fetch_err(&f, &cfg);
    assert!(
        matches!(
            &err,
            RepoError::Verify { source, .. } if matches!(**source, ReleaseError::Expired { .. })
        ),
        "{err:?}"
    );
    assert!(chain(&err).contains("release file expired at"), "{err}");
}

#[test]
fn packages_index_not_matching_release_is_refused() {
    let f = fixture();
    let path = f
        .dir
        .path()
        .join("dists/bookworm/main/binary-amd64/Packages.xz");
    let mut data = fs_err::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    fs_err::write(&path, &data).unwrap();
    let err = fetch_err(&f, &config(String::new(), &f.key, &[SUITE]));
    let RepoError::FetchIndex {
        suite,
        path,
        source:
            VerifyError::Hash {
                url,
                expected,
                actual,
            },
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (suite.as_str(), path.as_str()),
        (SUITE, "main/binary-amd64/Packages.xz")
    );
    assert!(url.ends_with("/dists/bookworm/main/binary-amd64/Packages.xz"));
    assert_eq!(actual, &sha256(&data));
    assert_ne!(expected, actual);
    assert!(
        chain(&err).starts_with(
            "cannot fetch index main/binary-amd64/Packages.xz of suite bookworm: http://127.0.0.1:"
        ),
        "{}",
        chain(&err)
    );

    // A longer file is cut off at the size the release lists.
    data.extend_from_slice(b"trailing");
    fs_err::write(
        f.dir
            .path()
            .join("dists/bookworm/main/binary-amd64/Packages.xz"),
        &data,
    )
    .unwrap();
    let err = fetch_err(&f, &config(String::new(), &f.key, &[SUITE]));
    assert!(
        matches!(
            &err,
            RepoError::FetchIndex {
                source: VerifyError::TooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

fn fetched_index(f: &Fixture, server: &Server) -> RepoIndex {
    repo::fetch_index(
        &config(server.url(), &f.key, &[SUITE]),
        "amd64",
        &NoReporter,
    )
    .unwrap()
}

#[test]
fn deb_not_matching_index_is_refused_and_nothing_is_cached() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let index = fetched_index(&f, &server);
    let hello = find(&index, "hello", "1.0-1");
    let pool = f.dir.path().join(f.debs[1].pool_path());
    let mut data = fs_err::read(&pool).unwrap();
    data[10] ^= 1;
    fs_err::write(&pool, &data).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let err = Cache::new(cache_dir.path())
        .fetch_all(&downloads(&index), 1, &NoReporter)
        .unwrap_err();
    let CacheError::Download {
        name,
        source:
            VerifyError::Hash {
                url,
                expected,
                actual,
            },
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "hello_1.0-1_amd64.deb");
    assert_eq!(url, &index.url_of(hello));
    assert_eq!(expected, &index.packages[hello].sha256);
    assert_eq!(actual, &sha256(&data));
    assert_eq!(
        chain(&err),
        format!(
            "cannot download hello_1.0-1_amd64.deb: {url} has sha256 {actual}, expected {expected}"
        )
    );
    // libc6 came first and was cached with 1 job; the bad one left nothing behind.
    let libc = &index.packages[find(&index, "libc6", "2.36-9")];
    assert_eq!(
        files_under(cache_dir.path()),
        [Path::new("blobs/sha256").join(&libc.sha256)]
    );
}

#[test]
fn corrupted_cache_entry_is_detected_and_fetched_again() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let index = fetched_index(&f, &server);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let items = downloads(&index);
    let paths = cache.fetch_all(&items, 2, &NoReporter).unwrap();
    fs_err::write(&paths[1], b"bit rot").unwrap();

    let rec = Recorder::default();
    assert_eq!(cache.get(&items[1].sha256, &rec), None);
    assert!(!paths[1].exists());
    assert_eq!(rec.warnings().len(), 1);
    assert!(
        rec.warnings()[0].contains("is corrupt"),
        "{:?}",
        rec.warnings()
    );

    fs_err::write(&paths[0], b"bit rot").unwrap();
    let before = server.count();
    let rec = Recorder::default();
    let again = cache.fetch_all(&items, 2, &rec).unwrap();
    assert_eq!(again, paths);
    assert_eq!(server.count() - before, 2, "{:?}", server.requests());
    assert_eq!(rec.warnings().len(), 1, "{:?}", rec.warnings());
    for (path, item) in again.iter().zip(&items) {
        assert_eq!(sha256(&fs_err::read(path).unwrap()), item.sha256);
    }
}

#[test]
fn missing_optional_suite_is_skipped_with_a_warning() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let rec = Recorder::default();
    let cfg = config(
        server.url(),
        &f.key,
        &[SUITE, "bookworm-backports", UPDATES],
    );
    let index = repo::fetch_index(&cfg, "amd64", &rec).unwrap();
    let suites: Vec<&str> = index.suites.iter().map(|s| s.suite.as_str()).collect();
    assert_eq!(suites, [SUITE, UPDATES]);
    assert_eq!(index.origin, [0, 0, 0, 1]);
    let warnings = rec.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("suite bookworm-backports is not on the mirror"),
        "{warnings:?}"
    );
}

/// Issue 13, point 9: a build went on without its security suite (a warning, exit 0)
/// when the mirror it was looked for on had none. A configured security suite is
/// required, like the release itself.
#[test]
fn trixie_built_without_its_security_updates() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let rec = Recorder::default();
    let cfg = config(server.url(), &f.key, &[SUITE, UPDATES, "bookworm-security"]);
    let err = repo::fetch_index(&cfg, "amd64", &rec).unwrap_err();
    assert!(
        matches!(&err, RepoError::MissingSecuritySuite { suite, .. } if suite == "bookworm-security"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "security suite bookworm-security is not at {}/dists/bookworm-security/",
            server.url()
        )),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("--security-mirror"));
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
    // Served from its own archive, as Debian does, it is found there.
    let other = tempfile::tempdir().unwrap();
    write_suite(
        other.path(),
        &f.key,
        &SuiteSpec::new(
            "bookworm-security",
            vec![TestDeb::new("libc6", "2.36-9+deb12u1", "amd64")],
        ),
    );
    let security = Server::start(other.path());
    let mut cfg = cfg;
    repo::add_security(
        &mut cfg,
        Path::new("/nonexistent"),
        SUITE,
        &repo::Security::Mirror(security.url()),
    )
    .unwrap();
    let index = repo::fetch_index(&cfg, "amd64", &NoReporter).unwrap();
    let suites: Vec<&str> = index.suites.iter().map(|s| s.suite.as_str()).collect();
    assert_eq!(suites, [SUITE, UPDATES, "bookworm-security"]);
    let libc = find(&index, "libc6", "2.36-9+deb12u1");
    assert!(index.url_of(libc).starts_with(&security.url()));
    // Left out on purpose, it is not fetched at all.
    repo::add_security(
        &mut cfg,
        Path::new("/nonexistent"),
        SUITE,
        &repo::Security::Off,
    )
    .unwrap();
    let index = repo::fetch_index(&cfg, "amd64", &NoReporter).unwrap();
    assert_eq!(index.suites.len(), 2);
}

/// Issue 13, point 3: `--fixes-from-archive` downloaded and parsed every index whole on
/// every run (50 MB of text, 63,000 records held). With a cache, an index whose hash the
/// verified release file still names is not downloaded again; with a filter, only the
/// records asked for are kept.
#[test]
fn index_is_downloaded_and_held_whole_on_every_run() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let cfg = config(server.url(), &f.key, &[SUITE, UPDATES]);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let keep = |p: &plinth_dpkg::control::Paragraph| p.get("Package") == Some("tzdata");
    let opts = repo::IndexOptions {
        cache: Some(&cache),
        keep: Some(&keep),
    };
    let first = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    let names: Vec<(&str, &str)> = first
        .packages
        .iter()
        .map(|p| (p.package.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(names, [("tzdata", "2024a-0"), ("tzdata", "2025b-0")]);
    assert_eq!(first.origin, [0, 1]);
    assert_eq!(server.count(), 4);
    let again = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(again.packages, first.packages);
    assert_eq!(
        sorted(&server.requests()[4..]),
        [
            "/dists/bookworm-updates/InRelease",
            "/dists/bookworm/InRelease"
        ],
        "only the release files are fetched again"
    );
    // The decompressed text is kept too (as zstd, checked against the release file's
    // hash when read), so the compressed index is not even needed.
    let copies = cache_dir.path().join("derived/packages-zst");
    assert_eq!(fs_err::read_dir(&copies).unwrap().count(), 2);
    for e in fs_err::read_dir(cache_dir.path().join("blobs/sha256")).unwrap() {
        fs_err::remove_file(e.unwrap().path()).unwrap();
    }
    let third = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(third.packages, first.packages);
    assert_eq!(server.count(), 8, "{:?}", server.requests());
    // Copies and cached indexes that no longer match their signed hashes are not used:
    // the indexes are fetched again.
    for e in fs_err::read_dir(&copies).unwrap() {
        let p = e.unwrap().path();
        let bytes = zstd::encode_all(&b"Package: forged\nVersion: 1\n"[..], 1).unwrap();
        fs_err::write(p, bytes).unwrap();
    }
    let fourth = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(fourth.packages, first.packages);
    assert_eq!(server.count(), 12);
    // And the filter keeps nothing else than what it accepts, without a cache too.
    let plain = repo::fetch_index_with(
        &cfg,
        "amd64",
        repo::IndexOptions {
            cache: None,
            keep: Some(&keep),
        },
        &NoReporter,
    )
    .unwrap();
    assert_eq!(plain.packages, first.packages);
}

#[test]
fn missing_first_suite_is_an_error() {
    let f = fixture();
    let err = fetch_err(&f, &config(String::new(), &f.key, &["trixie", SUITE]));
    assert!(
        matches!(&err, RepoError::MissingSuite { suite, .. } if suite == "trixie"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "suite trixie is not on the mirror: no InRelease or Release at http://127.0.0.1:"
        ),
        "{err}"
    );
    // A server error is not mistaken for a missing suite.
    let server = Server::start(f.dir.path());
    server.set("/dists/bookworm-updates/InRelease", Override::Status(500));
    let err = repo::fetch_index(
        &config(server.url(), &f.key, &[SUITE, UPDATES]),
        "amd64",
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        chain(&err).contains("answered with http status 500"),
        "{}",
        chain(&err)
    );
}

#[test]
fn huge_bodies_are_cut_off_at_the_expected_size() {
    let f = fixture();
    let server = Server::start(f.dir.path());
    let index = fetched_index(&f, &server);
    let hello = find(&index, "hello", "1.0-1");
    let libc = find(&index, "libc6", "2.36-9");
    let path = |i: usize| format!("/{}", index.packages[i].filename);
    server.set(&path(hello), Override::HugeChunked);
    server.set(&path(libc), Override::HugeWithLength);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    for i in [hello, libc] {
        let rec = Recorder::default();
        let err = cache.fetch_all(&[index.download(i)], 1, &rec).unwrap_err();
        assert!(
            matches!(&err, CacheError::Download { source: VerifyError::TooLarge { expected, .. }, .. }
                if *expected == index.packages[i].size),
            "{err:?}"
        );
        assert!(
            chain(&err).ends_with(&format!(
                "is larger than the expected {} bytes",
                index.packages[i].size
            )),
            "{}",
            chain(&err)
        );
        // Read at most one byte past the expected size.
        let read = rec.bytes.load(std::sync::atomic::Ordering::Relaxed);
        assert!(read <= index.packages[i].size, "read {read} bytes");
    }
    assert_eq!(
        files_under(cache_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );

    // Same for an index: bounded by the size in the signed release.
    server.set(
        "/dists/bookworm/main/binary-amd64/Packages.xz",
        Override::HugeChunked,
    );
    let err = repo::fetch_index(
        &config(server.url(), &f.key, &[SUITE]),
        "amd64",
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            RepoError::FetchIndex {
                source: VerifyError::TooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
    // And an InRelease: bounded by the release size limit.
    server.set("/dists/bookworm/InRelease", Override::HugeChunked);
    let err = repo::fetch_index(
        &config(server.url(), &f.key, &[SUITE]),
        "amd64",
        &NoReporter,
    )
    .unwrap_err();
    assert!(chain(&err).contains("is larger than"), "{}", chain(&err));
}

#[test]
fn detached_release_signature_and_gz_index() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(12);
    let mut spec = SuiteSpec::new(SUITE, vec![TestDeb::new("libc6", "2.36-9", "amd64")]);
    spec.detached = true;
    spec.compression = "gz";
    spec.valid_until = None;
    let release = write_suite(dir.path(), &key, &spec);
    let server = Server::start(dir.path());
    let index =
        repo::fetch_index(&config(server.url(), &key, &[SUITE]), "amd64", &NoReporter).unwrap();
    assert_eq!(index.packages.len(), 1);
    assert_eq!(index.suites[0].inrelease_sha256, sha256(&release));
    assert_eq!(index.suites[0].valid_until, None);
    assert!(
        server
            .requests()
            .contains(&"/dists/bookworm/main/binary-amd64/Packages.gz".to_string())
    );
    // A tampered Release fails against its detached signature.
    let path = dir.path().join("dists/bookworm/Release");
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replace("Plinth Test", "Plinth Evil");
    fs_err::write(&path, text).unwrap();
    let err =
        repo::fetch_index(&config(server.url(), &key, &[SUITE]), "amd64", &NoReporter).unwrap_err();
    assert!(
        chain(&err).starts_with("Release of suite bookworm at http://"),
        "{err}"
    );
}

/// A gzip index is kept in the cache as downloaded, with no decompressed copy beside it
/// (inflating it again beside the parser is as fast): a second resolve fetches only the
/// release file, and a cached index that no longer matches its signed hash is fetched
/// again.
#[test]
fn gz_index_is_read_again_from_the_cache_without_a_decompressed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(14);
    let mut spec = SuiteSpec::new(SUITE, vec![TestDeb::new("libc6", "2.36-9", "amd64")]);
    spec.compression = "gz";
    write_suite(dir.path(), &key, &spec);
    let server = Server::start(dir.path());
    let cfg = config(server.url(), &key, &[SUITE]);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let opts = repo::IndexOptions {
        cache: Some(&cache),
        keep: None,
    };
    let first = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(first.packages.len(), 1);
    assert_eq!(
        server.requests(),
        [
            "/dists/bookworm/InRelease",
            "/dists/bookworm/main/binary-amd64/Packages.gz"
        ]
    );
    assert!(!cache_dir.path().join("derived/packages-zst").exists());
    let again = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(again.packages, first.packages);
    assert_eq!(server.requests()[2..], ["/dists/bookworm/InRelease"]);
    for e in fs_err::read_dir(cache_dir.path().join("blobs/sha256")).unwrap() {
        fs_err::write(e.unwrap().path(), b"not the index").unwrap();
    }
    let third = repo::fetch_index_with(&cfg, "amd64", opts, &NoReporter).unwrap();
    assert_eq!(third.packages, first.packages);
    assert_eq!(
        server.requests()[3..],
        [
            "/dists/bookworm/InRelease",
            "/dists/bookworm/main/binary-amd64/Packages.gz"
        ]
    );
}

#[test]
fn binary_all_index_is_fetched_unless_folded_into_arch_indexes() {
    let key = key(13);
    // (No-Support-for-Architecture-all: Packages, Architectures, binary-all fetched)
    for (no_support_all, archs, fetched) in [
        (false, "all amd64", true),
        (true, "all amd64", false),
        // Like the security archive: binary-all listed, but `all` not offered.
        (false, "amd64", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = SuiteSpec::new(SUITE, vec![TestDeb::new("libc6", "2.36-9", "amd64")]);
        spec.all_debs = vec![TestDeb::new("tzdata", "2024a-0", "all")];
        spec.no_support_all = no_support_all;
        spec.architectures = Some(archs);
        write_suite(dir.path(), &key, &spec);
        let mirror = format!("file://{}", dir.path().display());
        let index =
            repo::fetch_index(&config(mirror, &key, &[SUITE]), "amd64", &NoReporter).unwrap();
        let names: Vec<&str> = index.packages.iter().map(|p| p.package.as_str()).collect();
        let want: &[&str] = if fetched {
            &["libc6", "tzdata"]
        } else {
            &["libc6"]
        };
        assert_eq!(names, want, "{no_support_all} {archs}");
    }
}

#[test]
fn unsupported_architecture_is_an_error() {
    let f = fixture();
    let mirror = format!("file://{}", f.dir.path().display());
    let err =
        repo::fetch_index(&config(mirror, &f.key, &[SUITE]), "riscv64", &NoReporter).unwrap_err();
    assert_eq!(
        err.to_string(),
        "suite bookworm does not offer architecture riscv64"
    );
}

#[test]
fn suite_mirror_override_is_used() {
    let f = fixture();
    // The updates suite lives under a second "archive" on another server.
    let other = tempfile::tempdir().unwrap();
    write_suite(
        other.path(),
        &f.key,
        &SuiteSpec::new(UPDATES, f.updates.clone()),
    );
    fs_err::remove_dir_all(f.dir.path().join("dists").join(UPDATES)).unwrap();
    let main = Server::start(f.dir.path());
    let security = Server::start(other.path());
    let mut cfg = config(main.url(), &f.key, &[SUITE, UPDATES]);
    cfg.suite_mirrors
        .insert(UPDATES.into(), format!("{}/", security.url()));
    let index = repo::fetch_index(&cfg, "amd64", &NoReporter).unwrap();
    assert_eq!(index.suites.len(), 2);
    assert_eq!(index.suites[1].base_uri, security.url());
    let tz = find(&index, "tzdata", "2025b-0");
    assert!(index.url_of(tz).starts_with(&security.url()));
    assert_eq!(security.count(), 2);
}

// ---- system test ------------------------------------------------------------------

#[test]
fn real_mirror_index_and_base_files_download() {
    let cfg = match repo::config_from_apt(
        Path::new("/"),
        "bookworm",
        &repo::Security::Apt,
        SystemTime::now(),
    ) {
        Ok(cfg) => cfg,
        Err(e) => return skip(&format!("no apt source for bookworm: {}", chain(&e))),
    };
    let rec = Recorder::default();
    let index = match repo::fetch_index(&cfg, "amd64", &rec) {
        Ok(index) => index,
        Err(e @ RepoError::FetchRelease { .. }) => {
            return skip(&format!("mirror unreachable: {}", chain(&e)));
        }
        Err(e) => panic!("{}", chain(&e)),
    };
    for w in rec.warnings() {
        eprintln!("warning: {w}");
    }
    assert_eq!(index.suites[0].suite, "bookworm");
    assert_eq!(index.suites[0].signer.len(), 40);
    assert!(index.packages.iter().any(|p| p.package == "libc6"));
    let base_files = index
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.package == "base-files")
        .max_by(|a, b| a.1.version.cmp(&b.1.version))
        .map(|(i, _)| i)
        .expect("base-files in the index");
    let cache_dir = tempfile::tempdir().unwrap();
    let paths = Cache::new(cache_dir.path())
        .fetch_all(&[index.download(base_files)], 1, &NoReporter)
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let deb = plinth_deb::debfile::read_deb(
        &fs_err::read(&paths[0]).unwrap(),
        "base-files.deb",
        &plinth_deb::debfile::DebLimits::default(),
    )
    .unwrap();
    assert!(deb.control.contains("Package: base-files"));
}

/// Issue 13, point 8: a build without a lock downloaded and parsed every index whole on
/// every run and held full records of all of them (about 0.5 GB). The build's resolution
/// now reads the indexes through the package cache, keeping lean records (dependency
/// fields as text): a second resolve downloads only the release files; a cached index
/// and a cached decompressed copy that no longer match the signed release file are
/// refused, removed and fetched again, and the records are those of the real index.
#[test]
fn second_resolve_reads_the_cached_index_and_a_tampered_one_is_fetched_again() {
    use plinth_deb::packages::{PackageRecord, PackagesError, RawDepends};
    let f = fixture();
    let server = Server::start(f.dir.path());
    let cfg = config(server.url(), &f.key, &[SUITE, UPDATES]);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let lean = |p: &plinth_dpkg::control::Paragraph| -> Result<_, PackagesError> {
        Ok(Some((
            PackageRecord::from_paragraph_lean(p)?,
            RawDepends::of(p),
        )))
    };
    let resolve = || repo::fetch_index_map(&cfg, "amd64", Some(&cache), &lean, &NoReporter);
    let first = resolve().unwrap();
    let hello = first
        .packages
        .iter()
        .find(|(r, _)| r.package == "hello")
        .unwrap();
    assert_eq!(&*hello.1.depends, "libc6 (>= 2.36)");
    assert!(
        hello.0.depends.is_empty(),
        "dependencies stay unparsed text"
    );
    assert_eq!(first.packages.len(), f.debs.len() + f.updates.len());
    let fetched = server.count();
    assert!(
        server.requests().iter().any(|r| r.contains("Packages")),
        "{:?}",
        server.requests()
    );

    // Second resolve: only the release files are fetched.
    let again = resolve().unwrap();
    assert_eq!(again.packages, first.packages);
    assert_eq!(
        sorted(&server.requests()[fetched..]),
        [
            "/dists/bookworm-updates/InRelease",
            "/dists/bookworm/InRelease"
        ]
    );

    // Tampered: every cached index blob and every decompressed copy now hold a forged
    // index. Neither is used; the indexes are fetched again and the cache repaired.
    let forged = b"Package: forged\nVersion: 1\nArchitecture: amd64\nFilename: pool/f.deb\n\
        Size: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
    let blobs = cache_dir.path().join("blobs/sha256");
    let copies = cache_dir.path().join("derived/packages-zst");
    let mut tampered = 0;
    for dir in [&blobs, &copies] {
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            fs_err::write(&p, zstd::encode_all(&forged[..], 1).unwrap()).unwrap();
            tampered += 1;
        }
    }
    assert_eq!(
        tampered, 4,
        "two indexes, each kept compressed and as a copy"
    );
    let before = server.count();
    let third = resolve().unwrap();
    assert_eq!(third.packages, first.packages);
    let refetched: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| r.contains("Packages"))
        .cloned()
        .collect();
    assert_eq!(refetched.len(), 2, "{:?}", server.requests());
    let before = server.count();
    assert_eq!(resolve().unwrap().packages, first.packages);
    assert_eq!(
        server.count() - before,
        2,
        "the repaired cache serves again"
    );
}
