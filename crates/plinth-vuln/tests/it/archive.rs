//! Fixes from the archive: offline over a hand-made `file://` archive, and for real over
//! the machine's apt mirror (skipped with a notice when there is none or it cannot be
//! reached, unless `CI=true`).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use plinth_core::progress::NoReporter;
use plinth_deb::cache::Cache;
use plinth_deb::packages::{PackageRecord, SourceRef};
use plinth_deb::release::Release;
use plinth_deb::repo::{RepoIndex, SuiteIndex};
use plinth_dpkg::Version;
use plinth_sbom::{Distro, Package, PackageKind, Sbom};
use plinth_vuln::archive::{
    ArchiveFixesError, ArchiveOptions, ArchiveSource, fixes_from_archive, fixes_with_index,
};
use sha2::{Digest, Sha256};

fn deb_package(name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
    Package {
        kind: Some(PackageKind::Deb),
        name: name.to_string(),
        version: version.to_string(),
        source_name: source.map(|(n, _)| n.to_string()),
        source_version: source.map(|(_, v)| v.to_string()).filter(|v| v != version),
        arch: Some("amd64".to_string()),
        ..Package::default()
    }
}

fn bookworm(packages: Vec<Package>) -> Sbom {
    Sbom {
        name: "test".to_string(),
        source_kind: "rootfs-dir".to_string(),
        distro: Some(Distro {
            id: "debian".to_string(),
            version_id: Some("12".to_string()),
            ..Distro::default()
        }),
        packages,
        ..Sbom::default()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A `.deb` whose data archive holds `files` (path, content) and `links` (path, target).
fn make_deb(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let tar_of = |files: &[(&str, &[u8])], links: &[(&str, &str)]| {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        for (path, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o777);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, path, target).unwrap();
        }
        gzip(&b.into_inner().unwrap())
    };
    let control = tar_of(
        &[(
            "./control",
            b"Package: x\nVersion: 1\nArchitecture: amd64\n",
        )],
        &[],
    );
    let data = tar_of(files, links);
    plinth_deb::debfile::ar_archive(&[
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control[..]),
        ("data.tar.gz", &data[..]),
    ])
}

fn record(
    base: &Path,
    name: &str,
    version: &str,
    source: Option<&str>,
    data: &[u8],
) -> PackageRecord {
    let filename = format!("pool/{name}_{version}_amd64.deb");
    fs_err::create_dir_all(base.join("pool")).unwrap();
    fs_err::write(base.join(&filename), data).unwrap();
    PackageRecord {
        package: name.to_string(),
        version: Version::parse(version).unwrap(),
        architecture: "amd64".to_string(),
        multi_arch: Default::default(),
        source: source.map(|s| SourceRef {
            name: s.to_string(),
            version: None,
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

const CHANGELOG: &str = "\
openssl (3.0.13-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.13
   - CVE-2023-5678 (Fix excessive time spent in DH check / generation with
     large Q parameter value) (Closes: #1055473).
   - CVE-2024-0727 (PKCS12 Decoding crashes) (Closes: #1061582).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 03 Mar 2024 10:47:43 +0100

openssl (3.0.11-1~deb12u2) bookworm-security; urgency=high

  * CVE-2023-5363 (Incorrect cipher key and IV length processing).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 23 Oct 2023 19:52:22 +0200

openssl (3.0.11-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.11

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Tue, 26 Sep 2023 21:08:42 +0200
";

#[test]
fn offline_archive_lists_cves_between_versions() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path();
    let gz = gzip(CHANGELOG.as_bytes());
    let libssl = make_deb(
        &[("usr/lib/libssl.so.3", b"elf")],
        &[("usr/share/doc/libssl3", "openssl")],
    );
    let openssl = make_deb(&[("usr/share/doc/openssl/changelog.Debian.gz", &gz)], &[]);
    let broken = make_deb(&[("usr/share/doc/tzdata/copyright", b"c")], &[]);
    let suite = |name: &str| SuiteIndex {
        suite: name.to_string(),
        inrelease_sha256: String::new(),
        signer: "ABCD".to_string(),
        date: None,
        valid_until: None,
        base_uri: format!("file://{}", b.display()),
        release: Release::default(),
    };
    let records = vec![
        (
            0,
            record(b, "libssl3", "3.0.11-1~deb12u1", Some("openssl"), b"old"),
        ),
        (
            1,
            record(b, "libssl3", "3.0.13-1~deb12u1", Some("openssl"), &libssl),
        ),
        (1, record(b, "openssl", "3.0.13-1~deb12u1", None, &openssl)),
        (0, record(b, "base-files", "12.4+deb12u5", None, b"bf")),
        (0, record(b, "tzdata", "2024a-0+deb12u1", None, &broken)),
    ];
    let index = RepoIndex {
        suites: vec![suite("bookworm"), suite("bookworm-security")],
        origin: records.iter().map(|(o, _)| *o).collect(),
        packages: records.into_iter().map(|(_, r)| r).collect(),
    };
    let sbom = bookworm(vec![
        deb_package(
            "libssl3",
            "3.0.11-1~deb12u2",
            Some(("openssl", "3.0.11-1~deb12u2")),
        ),
        deb_package("openssl", "3.0.11-1~deb12u2", None),
        deb_package("base-files", "12.4+deb12u5", None),
        deb_package("tzdata", "2023c-5", None),
        deb_package("local-tool", "1.0", None),
        deb_package("weird", "not a version", None),
    ]);
    let cache = Cache::new(b.join("cache"));
    let fixes = fixes_with_index(&sbom, "bookworm", "amd64", &index, &cache, &NoReporter);
    assert_eq!(fixes.up_to_date, 1);
    assert_eq!(fixes.not_in_archive, ["local-tool"]);
    assert_eq!(fixes.warnings.len(), 1, "{:?}", fixes.warnings);
    assert!(fixes.warnings[0].starts_with("weird not a version"));
    assert_eq!(fixes.updates.len(), 2);
    let ssl = &fixes.updates[0];
    assert_eq!(ssl.source, "openssl");
    assert_eq!(
        (
            ssl.installed.as_str(),
            ssl.newest.as_str(),
            ssl.suite.as_str()
        ),
        ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "bookworm-security")
    );
    assert_eq!(ssl.binaries, ["libssl3", "openssl"]);
    assert_eq!(ssl.cve_ids, ["CVE-2023-5678", "CVE-2024-0727"], "{ssl:#?}");
    assert_eq!(ssl.entries.len(), 1);
    assert_eq!(ssl.entries[0].urgency, "medium");
    // libssl3 is tried first; its doc dir leads to openssl's.
    assert_eq!(
        ssl.changelog.as_deref(),
        Some("openssl 3.0.13-1~deb12u1: usr/share/doc/openssl/changelog.Debian.gz")
    );
    assert_eq!(ssl.error, None);
    let tz = &fixes.updates[1];
    assert_eq!(tz.source, "tzdata");
    assert!(tz.cve_ids.is_empty());
    assert!(
        tz.error
            .as_deref()
            .unwrap()
            .contains("ships no changelog in /usr/share/doc/tzdata"),
        "{:?}",
        tz.error
    );
    assert_eq!(fixes.cve_ids(), ["CVE-2023-5678", "CVE-2024-0727"]);
    let json = serde_json::to_value(&fixes).unwrap();
    assert_eq!(json["updates"][0]["cve_ids"][1], "CVE-2024-0727");
    assert_eq!(json["suites"][1]["name"], "bookworm-security");
}

#[test]
fn non_debian_is_a_clear_error() {
    let mut sbom = bookworm(vec![]);
    sbom.distro.as_mut().unwrap().id = "alpine".to_string();
    let dir = tempfile::tempdir().unwrap();
    let err = fixes_from_archive(
        &sbom,
        &ArchiveOptions::default(),
        &Cache::new(dir.path()),
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, ArchiveFixesError::NotDebian { .. }), "{err}");
    sbom.distro = None;
    let err = fixes_from_archive(
        &sbom,
        &ArchiveOptions::default(),
        &Cache::new(dir.path()),
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, ArchiveFixesError::NoDistro), "{err}");
}

/// Skips (returns true) with a notice, or fails under `CI=true`.
fn skip(why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the archive test needs the apt mirror: {why}");
    }
    eprintln!("notice: skipping the real-archive test: {why}");
    true
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// The real archive: an older openssl is shown the CVEs fixed since, from the newest
/// changelog in the signed archive of the machine's apt mirror.
#[test]
fn real_archive_lists_openssl_fixes() {
    let root = Path::new("/");
    let has_bookworm = plinth_deb::sources::discover(root)
        .map(|s| {
            s.iter()
                .any(|e| e.is_binary() && e.suites.iter().any(|x| x == "bookworm"))
        })
        .unwrap_or(false);
    if !has_bookworm && skip("the apt sources list no bookworm mirror") {
        return;
    }
    let sbom = bookworm(vec![
        deb_package(
            "libssl3",
            "3.0.11-1~deb12u2",
            Some(("openssl", "3.0.11-1~deb12u2")),
        ),
        deb_package("openssl", "3.0.11-1~deb12u2", None),
        // Newer than anything the archive will have: up to date, nothing fetched.
        deb_package("base-files", "99:1", None),
        deb_package("plinth-test-not-in-debian", "1.0", None),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let opts = ArchiveOptions {
        source: ArchiveSource::Apt(root.to_path_buf()),
        ..ArchiveOptions::default()
    };
    let started = Instant::now();
    let fixes = match fixes_from_archive(&sbom, &opts, &cache, &NoReporter) {
        Ok(f) => f,
        Err(e @ (ArchiveFixesError::Config { .. } | ArchiveFixesError::Index { .. })) => {
            if skip(&chain(&e)) {
                return;
            }
            unreachable!()
        }
        Err(e) => panic!("{}", chain(&e)),
    };
    let took = started.elapsed();
    assert_eq!(fixes.release, "bookworm");
    assert_eq!(fixes.arch, "amd64");
    assert!(fixes.suites.iter().any(|s| s.name == "bookworm-security"));
    assert_eq!(fixes.up_to_date, 1);
    assert_eq!(fixes.not_in_archive, ["plinth-test-not-in-debian"]);
    assert_eq!(fixes.updates.len(), 1, "{:#?}", fixes.updates);
    let ssl = &fixes.updates[0];
    assert_eq!(ssl.source, "openssl");
    assert_eq!(ssl.binaries, ["libssl3", "openssl"]);
    assert_eq!(ssl.error, None);
    assert!(
        Version::parse(&ssl.newest).unwrap() >= Version::parse("3.0.13-1~deb12u1").unwrap(),
        "{}",
        ssl.newest
    );
    // Fixed in 3.0.13-1~deb12u1, named in its changelog entry.
    for id in ["CVE-2024-0727", "CVE-2023-5678", "CVE-2024-5535"] {
        assert!(
            ssl.cve_ids.iter().any(|c| c == id),
            "{id} not in {:?}",
            ssl.cve_ids
        );
    }
    // Fixed in the installed version itself: not listed.
    assert!(!ssl.cve_ids.iter().any(|c| c == "CVE-2023-5363"));
    assert!(
        ssl.entries.iter().all(|e| e.version != "3.0.11-1~deb12u2"),
        "{:?}",
        ssl.entries
    );
    assert_eq!(
        ssl.entries.first().map(|e| e.version.as_str()),
        Some(ssl.newest.as_str())
    );
    eprintln!(
        "real archive: openssl {} -> {} ({}): {} entries, {} CVE ids, read from {:?}, in {:.1?}",
        ssl.installed,
        ssl.newest,
        ssl.suite,
        ssl.entries.len(),
        ssl.cve_ids.len(),
        ssl.changelog,
        took
    );
    eprintln!("CVE ids: {}", ssl.cve_ids.join(" "));
}
