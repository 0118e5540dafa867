//! Imports the real feed data in `tests/data/vuln` at the repository root and checks
//! counts and specific records.

use std::path::PathBuf;

use plinth_core::progress::NoReporter;
use plinth_vuln::import::{Input, SkipReason, import};
use plinth_vuln::{Db, Error, Severity, Status};

fn data_dir() -> PathBuf {
    crate::match_support::test_data().join("vuln")
}

fn skipped(report: &plinth_vuln::SourceReport, reason: SkipReason) -> u64 {
    report.skipped.get(&reason).copied().unwrap_or(0)
}

#[test]
fn go_osv_dump() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[Input::new(data.join("osv/Go-all.zip"))],
        &NoReporter,
    )
    .unwrap();
    let go = report.source("osv:Go").unwrap();
    // 322 records (the subset of tests/data/README.md): 17 withdrawn; the other 305
    // name 321 (record, module) pairs.
    assert_eq!(go.records, 321, "{go:?}");
    assert_eq!(skipped(go, SkipReason::Withdrawn), 17, "{go:?}");
    assert_eq!(go.skipped_total(), 17, "{go:?}");

    let db = Db::open(&db_path).unwrap();
    assert_eq!(db.ecosystems().unwrap(), vec![("go".to_string(), 321)]);
    let stdlib = db.advisories("go", "stdlib").unwrap();
    let a = stdlib.iter().find(|a| a.id == "GO-2023-1840").unwrap();
    assert_eq!(a.aliases, vec!["CVE-2023-29403"]);
    assert_eq!(a.status, Status::Fixed);
    assert_eq!(a.symbols, vec!["runtime"]);
    assert_eq!(a.ranges.len(), 2);
    assert_eq!(a.ranges[0].introduced, None);
    assert_eq!(a.ranges[0].fixed.as_deref(), Some("1.19.10"));
    assert_eq!(a.ranges[1].introduced.as_deref(), Some("1.20.0-0"));
    assert_eq!(a.ranges[1].fixed.as_deref(), Some("1.20.5"));
    assert_eq!(a.source, "osv");
    assert_eq!(
        a.summary.as_deref(),
        Some("Unsafe behavior in setuid/setgid binaries in runtime")
    );
    // Three affected entries for one module are one advisory, ranges united.
    let zitadel = db.advisories("go", "github.com/zitadel/zitadel").unwrap();
    let z: Vec<_> = zitadel.iter().filter(|a| a.id == "GO-2026-6141").collect();
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].status, Status::Fixed);
    let sources = db.sources().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].name, "osv:Go");
    assert_eq!(sources[0].records, 321);
    assert_eq!(sources[0].skipped, 17);
    assert!(db.age().unwrap().unwrap().as_secs() < 600);
}

#[test]
fn rustsec_osv_dump() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[Input::new(data.join("osv/crates.io-all.zip"))],
        &NoReporter,
    )
    .unwrap();
    let crates = report.source("osv:crates.io").unwrap();
    assert_eq!(crates.records, 1193, "{crates:?}");
    assert_eq!(skipped(crates, SkipReason::Withdrawn), 13, "{crates:?}");
    assert_eq!(crates.skipped_total(), 13, "{crates:?}");

    let db = Db::open(&db_path).unwrap();
    let cap = db.advisories("crates.io", "cap-primitives").unwrap();
    let a = cap.iter().find(|a| a.id == "RUSTSEC-2024-0445").unwrap();
    assert_eq!(a.status, Status::Fixed);
    assert_eq!(a.ranges.len(), 1);
    assert_eq!(a.ranges[0].introduced.as_deref(), Some("0.0.0-0"));
    assert_eq!(a.ranges[0].fixed.as_deref(), Some("3.4.1"));
    assert_eq!(a.aliases, vec!["CVE-2024-51756", "GHSA-hxf5-99xg-86hw"]);
    // CVSS v4 only, no word from the database: unknown, with the vector kept.
    assert_eq!(a.severity, Some(Severity::Unknown));
    assert_eq!(a.severity_source.as_deref(), Some("CVSS_V4 (osv)"));
    assert!(a.cvss.as_deref().unwrap().starts_with("CVSS:4.0/"));

    // A CVSS v3 record gets its computed base score's rating.
    let smallvec = db.advisories("crates.io", "smallvec").unwrap();
    let a = smallvec
        .iter()
        .find(|a| a.id == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(a.ranges.last().unwrap().fixed.as_deref(), Some("1.6.1"));
    assert_eq!(a.severity, Some(Severity::Critical), "{a:?}");
    assert_eq!(a.severity_source.as_deref(), Some("CVSS_V3 (osv)"));
}

#[test]
fn debian_tracker_sample() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[Input::new(data.join("debian/tracker-sample.json"))],
        &NoReporter,
    )
    .unwrap();
    let tracker = report.source("debian-tracker").unwrap();
    assert_eq!(tracker.records, 25, "{tracker:?}");
    assert_eq!(tracker.skipped_total(), 0, "{tracker:?}");

    let db = Db::open(&db_path).unwrap();
    // A bookworm package fixed by a security update.
    let sope = db.advisories("debian:12", "sope").unwrap();
    assert_eq!(sope.len(), 1);
    assert_eq!(sope[0].id, "CVE-2025-53603");
    assert_eq!(sope[0].status, Status::Fixed);
    assert_eq!(sope[0].ranges[0].fixed.as_deref(), Some("5.8.0-1+deb12u1"));
    assert_eq!(sope[0].severity, None, "not yet assigned");
    assert_eq!(sope[0].source, "debian-tracker");
    assert!(sope[0].summary.as_deref().unwrap().contains("SOPE SOGo"));
    let trixie = db.advisories("debian:13", "sope").unwrap();
    assert_eq!(trixie[0].ranges[0].fixed.as_deref(), Some("5.12.1-2"));
    // End-of-life release.
    let chromium = db.advisories("debian:10", "chromium").unwrap();
    assert_eq!(chromium[0].status, Status::EndOfLife);
    let chromium = db.advisories("debian:12", "chromium").unwrap();
    assert_eq!(chromium[0].status, Status::Fixed);
    // fixed_version "0" and urgency unimportant.
    let proto = db.advisories("debian:10", "prototypejs").unwrap();
    let a = proto.iter().find(|a| a.id == "CVE-2007-2383").unwrap();
    assert_eq!(a.status, Status::NotAffected);
    assert_eq!(a.severity, Some(Severity::Negligible));
    assert_eq!(a.severity_source.as_deref(), Some("debian urgency"));
    let a = proto.iter().find(|a| a.id == "CVE-2008-7220").unwrap();
    assert_eq!(a.severity, Some(Severity::High), "high** → high");
    let txt2man = db.advisories("debian:sid", "txt2man").unwrap();
    assert_eq!(txt2man[0].severity, Some(Severity::Low));
    // `releases: []` gives nothing, and is no error.
    assert!(
        db.advisories("debian:12", "chromium-browser")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn vuln_list_debian() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[
            Input::new(data.join("debian/vuln-list-debian-CVE-2025-8058.json")),
            Input::new(data.join("debian/vuln-list-debian-distributions.json")),
        ],
        &NoReporter,
    )
    .unwrap();
    let vl = report.source("vuln-list-debian").unwrap();
    // sid, bookworm, bullseye (postponed) + buster, trixie, forky inheriting sid.
    assert_eq!(vl.records, 6, "{vl:?}");
    assert_eq!(report.sources.len(), 1);
    let db = Db::open(&db_path).unwrap();
    let get = |eco: &str| db.advisories(eco, "glibc").unwrap().remove(0);
    let bookworm = get("debian:12");
    assert_eq!(bookworm.id, "CVE-2025-8058");
    assert_eq!(bookworm.ranges[0].fixed.as_deref(), Some("2.36-9+deb12u13"));
    assert_eq!(get("debian:11").status, Status::Postponed);
    assert_eq!(
        get("debian:sid").ranges[0].fixed.as_deref(),
        Some("2.41-11")
    );
    assert_eq!(get("debian:13").ranges[0].fixed.as_deref(), Some("2.41-11"));
}

#[test]
fn alpine_secdb() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[
            Input::new(data.join("alpine/v3.20-main.subset.json")),
            Input::new(data.join("alpine/v3.19-main.subset.json")),
        ],
        &NoReporter,
    )
    .unwrap();
    let v320 = report.source("alpine-secdb:v3.20-main").unwrap();
    assert_eq!(v320.records, 121, "{v320:?}");
    let v319 = report.source("alpine-secdb:v3.19-main").unwrap();
    assert_eq!(v319.records, 98, "{v319:?}");
    let db = Db::open(&db_path).unwrap();
    let busybox = db.advisories("alpine:3.20", "busybox").unwrap();
    let a = busybox.iter().find(|a| a.id == "CVE-2022-28391").unwrap();
    assert_eq!(a.status, Status::Fixed);
    assert_eq!(a.ranges[0].fixed.as_deref(), Some("1.35.0-r7"));
    assert_eq!(a.source, "alpine-secdb");
    let a = busybox.iter().find(|a| a.id == "CVE-2021-42373").unwrap();
    assert_eq!(a.status, Status::NotAffected);
    assert!(a.ranges.is_empty());
    assert!(busybox.iter().any(|a| a.id == "ALPINE-13661"));

    // The 2020 YAML secdb, a directory of v3.3 … v3.11.
    let report = import(
        &db_path,
        &[Input::new(data.join("alpine/secdb-2020"))],
        &NoReporter,
    )
    .unwrap();
    assert_eq!(report.sources.len(), 18, "{:?}", report.sources);
    let total: u64 = report.sources.iter().map(|s| s.records).sum();
    let bad_versions: u64 = report
        .sources
        .iter()
        .map(|s| skipped(s, SkipReason::UnparseableVersion))
        .sum();
    // 12,603 ids in secfixes; the ones under versions apk rejects (`2.7.16-33`,
    // `0.8.21.r2`, …) are counted instead.
    assert_eq!(total + bad_versions, 12603, "{total} + {bad_versions}");
    assert!(bad_versions > 0 && bad_versions < 100, "{bad_versions}");
    assert!(
        report.notes.iter().any(|n| n.contains("ignored 1 file")),
        "{:?}",
        report.notes
    );
    let db = Db::open(&db_path).unwrap();
    // Both imports are there: different sources.
    assert_eq!(db.sources().unwrap().len(), 20);
    let xen = db.advisories("alpine:3.11", "xen").unwrap();
    assert!(xen.iter().any(|a| a.id == "XSA-207"));
    assert!(xen.iter().any(|a| a.id == "CVE-2017-8904"));
    let tcpdump = db.advisories("alpine:3.11", "tcpdump").unwrap();
    assert!(tcpdump.iter().any(|a| a.id == "CVE-2018-16452"));
}

#[test]
fn everything_at_once_then_a_failed_import_changes_nothing() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let report = import(&db_path, &[Input::new(&data)], &NoReporter).unwrap();
    let names: Vec<&str> = report.sources.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "debian-tracker",
        "vuln-list-debian",
        "osv:Go",
        "osv:crates.io",
        "alpine-secdb:v3.20-main",
        "alpine-secdb:v3.11-community",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let total = report.records();
    let db = Db::open(&db_path).unwrap();
    assert_eq!(db.count().unwrap(), total);
    let ecosystems: Vec<String> = db
        .ecosystems()
        .unwrap()
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    for want in [
        "go",
        "crates.io",
        "debian:12",
        "debian:sid",
        "alpine:3.20",
        "alpine:3.3",
    ] {
        assert!(
            ecosystems.iter().any(|e| e == want),
            "{want} in {ecosystems:?}"
        );
    }
    drop(db);
    let before = fs_err::read(&db_path).unwrap();

    // A Go dump cut in half: no central directory, refused before anything is written.
    let zip = fs_err::read(data.join("osv/Go-all.zip")).unwrap();
    let cut = tmp.path().join("Go-all.zip");
    fs_err::write(&cut, &zip[..zip.len() / 2]).unwrap();
    let err = import(&db_path, &[Input::new(&cut)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    assert!(err.to_string().contains("zip"), "{err}");
    assert_eq!(fs_err::read(&db_path).unwrap(), before);

    // A Go dump damaged in the middle of its data: fails mid-import, after a hundred or
    // more records went into the temporary copy.
    let mut bad = zip.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 4096] {
        *b ^= 0x5a;
    }
    let damaged = tmp.path().join("damaged").join("Go-all.zip");
    fs_err::create_dir_all(damaged.parent().unwrap()).unwrap();
    fs_err::write(&damaged, &bad).unwrap();
    let err = import(&db_path, &[Input::new(&damaged)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    assert_eq!(fs_err::read(&db_path).unwrap(), before);
    let leftovers: Vec<String> = fs_err::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vuln") && n != ".vuln.db.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let db = Db::open(&db_path).unwrap();
    assert_eq!(db.count().unwrap(), total);

    // Re-importing a source replaces its rows, not adds to them.
    let again = import(
        &db_path,
        &[Input::new(data.join("osv/Go-all.zip"))],
        &NoReporter,
    )
    .unwrap();
    assert_eq!(again.records(), 321);
    let db = Db::open(&db_path).unwrap();
    assert_eq!(db.count().unwrap(), total);
}
