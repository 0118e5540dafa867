//! Malformed and hostile inputs: clear errors or counted skips, never a half-written
//! database.

use std::io::Write;
use std::path::{Path, PathBuf};

use plinth_core::progress::NoReporter;
use plinth_vuln::import::{Format, Input, SkipReason, import};
use plinth_vuln::{Db, Error, Status};

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs_err::write(&path, content).unwrap();
    path
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

const TRACKER: &str = r#"{
  "zlib": {
    "CVE-2022-37434": {
      "description": "zlib inflate overflow",
      "releases": {
        "bookworm": {"status": "resolved", "fixed_version": "1:1.2.13.dfsg-1", "urgency": "medium"},
        "bullseye": {"status": "resolved", "fixed_version": "1:1.2.11.dfsg-2+deb11u2", "urgency": "medium"},
        "trixie": {"status": "resolved", "fixed_version": "0", "urgency": "medium"},
        "sid": {"status": "undetermined", "urgency": "low"},
        "hamm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "low"},
        "forky": {"status": "resolved", "fixed_version": "not a version!", "urgency": "low"},
        "duke": {"status": "resolved", "urgency": "low"},
        "buster": {"status": "open", "urgency": "low", "nodsa": "Minor", "nodsa_reason": "postponed"}
      }
    },
    "TEMP-0000000-ABCDEF": {"releases": []}
  }
}"#;

#[test]
fn tracker_statuses_and_skips() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let f = write(tmp.path(), "tracker.json", TRACKER.as_bytes());
    let report = import(&db_path, &[Input::new(&f)], &NoReporter).unwrap();
    let s = report.source("debian-tracker").unwrap();
    assert_eq!(s.records, 5, "{s:?}");
    assert_eq!(s.skipped.get(&SkipReason::UnknownRelease), Some(&1));
    assert_eq!(s.skipped.get(&SkipReason::UnparseableVersion), Some(&1));
    assert_eq!(s.skipped.get(&SkipReason::MissingFields), Some(&1));
    let db = Db::open(&db_path).unwrap();
    let st = |eco: &str| db.advisories(eco, "zlib").unwrap()[0].status.clone();
    assert_eq!(st("debian:12"), Status::Fixed);
    assert_eq!(st("debian:11"), Status::Fixed);
    assert_eq!(st("debian:13"), Status::NotAffected);
    assert_eq!(st("debian:sid"), Status::Undetermined);
    assert_eq!(st("debian:10"), Status::Postponed);
    assert_eq!(
        db.skipped_reasons("debian-tracker")
            .unwrap()
            .get("unknown release"),
        Some(&1)
    );
}

#[test]
fn malformed_and_truncated_tracker_json() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let good = write(tmp.path(), "good.json", TRACKER.as_bytes());
    import(&db_path, &[Input::new(&good)], &NoReporter).unwrap();
    let before = fs_err::read(&db_path).unwrap();

    let truncated = write(
        tmp.path(),
        "truncated.json",
        &TRACKER.as_bytes()[..TRACKER.len() - 40],
    );
    let err = import(
        &db_path,
        &[Input::new(&truncated).with_format(Format::DebianTracker)],
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("truncated.json"), "{msg}");
    assert!(
        msg.contains("not valid Debian Security Tracker JSON"),
        "{msg}"
    );
    assert!(msg.contains("EOF"), "{msg}");

    let wrong = write(tmp.path(), "wrong.json", br#"{"zlib": [1, 2, 3]}"#);
    let err = import(
        &db_path,
        &[Input::new(&wrong).with_format(Format::DebianTracker)],
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");

    let trailing = write(
        tmp.path(),
        "trailing.json",
        format!("{TRACKER} xx").as_bytes(),
    );
    let err = import(&db_path, &[Input::new(&trailing)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");

    let garbage = write(tmp.path(), "garbage.json", b"\x00\x01 not json");
    let err = import(&db_path, &[Input::new(&garbage)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("cannot tell its format"), "{err}");

    assert_eq!(fs_err::read(&db_path).unwrap(), before);
}

#[test]
fn osv_unknown_ecosystems_git_ranges_and_bad_versions_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let records: [(&str, &[u8]); 7] = [
        (
            "GHSA-1.json",
            br#"{"id": "GHSA-1", "aliases": ["CVE-2024-1"], "database_specific": {"severity": "MODERATE"},
            "affected": [
              {"package": {"ecosystem": "Maven", "name": "org.x:y"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]},
              {"package": {"ecosystem": "PyPI", "name": "Django_Rest.Framework"},
               "ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc"}]},
                          {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.1.post1"}]}],
               "versions": ["2.0", "2.1"]}
            ]}"#,
        ),
        (
            "npm-bad.json",
            br#"{"id": "GHSA-2", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
               "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "banana"}]}]}]}"#,
        ),
        (
            "git-only.json",
            br#"{"id": "OSV-3", "affected": [{"package": {"ecosystem": "crates.io", "name": "x"},
               "ranges": [{"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "deadbeef"}]}]}]}"#,
        ),
        (
            "withdrawn.json",
            br#"{"id": "GHSA-4", "withdrawn": "2024-01-01T00:00:00Z", "affected": []}"#,
        ),
        ("broken.json", br#"{"id": "GHSA-5", "affected": [ {"#),
        (
            "no-id.json",
            br#"{"affected": [{"package": {"ecosystem": "npm", "name": "x"}, "versions": ["1.0.0"]}]}"#,
        ),
        (
            "open.json",
            br#"{"id": "GO-6", "affected": [{"package": {"ecosystem": "Go", "name": "example.com/m"},
               "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.2.0"}, {"last_affected": "1.4.0"}]}]}]}"#,
        ),
    ];
    let zip = write(tmp.path(), "mixed-all.zip", &zip_of(&records));
    let report = import(&db_path, &[Input::new(&zip)], &NoReporter).unwrap();
    let s = report.source("osv:mixed").unwrap();
    assert_eq!(s.records, 2, "{s:?}");
    let get = |r: SkipReason| s.skipped.get(&r).copied().unwrap_or(0);
    assert_eq!(get(SkipReason::UnknownEcosystem), 1);
    assert_eq!(get(SkipReason::GitRange), 2);
    assert_eq!(get(SkipReason::UnparseableVersion), 1);
    assert_eq!(get(SkipReason::NoAffectedVersions), 1);
    assert_eq!(get(SkipReason::Withdrawn), 1);
    assert_eq!(get(SkipReason::InvalidRecord), 1);
    assert_eq!(get(SkipReason::MissingFields), 1);

    let db = Db::open(&db_path).unwrap();
    let django = db.advisories("pypi", "django-rest-framework").unwrap();
    assert_eq!(django.len(), 1);
    assert_eq!(django[0].status, Status::Fixed);
    assert_eq!(django[0].versions, vec!["2.0", "2.1"]);
    assert_eq!(django[0].severity, Some(plinth_vuln::Severity::Medium));
    assert_eq!(
        django[0].severity_source.as_deref(),
        Some("database_specific (osv)")
    );
    let go = db.advisories("go", "example.com/m").unwrap();
    assert_eq!(go[0].status, Status::Open);
    assert_eq!(go[0].ranges[0].last_affected.as_deref(), Some("1.4.0"));

    // The same broken record given on its own is an error, not a skip.
    let single = write(tmp.path(), "GHSA-5.json", records[4].1);
    let err = import(
        &db_path,
        &[Input::new(&single).with_format(Format::Osv)],
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    assert!(err.to_string().contains("not a valid OSV record"), "{err}");
}

#[test]
fn osv_directory_of_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("records");
    fs_err::create_dir(&dir).unwrap();
    write(
        &dir,
        "a.json",
        br#"{"id": "GHSA-a", "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1.0.0"]}]}"#,
    );
    write(&dir, "b.json", br#"{"id": "GHSA-b", "#);
    write(&dir, "README.md", b"hello");
    let db_path = tmp.path().join("vuln.db");
    let report = import(
        &db_path,
        &[Input::new(&dir).with_format(Format::Osv)],
        &NoReporter,
    )
    .unwrap();
    let s = report.source("osv:records").unwrap();
    assert_eq!(s.records, 1);
    assert_eq!(s.skipped.get(&SkipReason::InvalidRecord), Some(&1));
    assert!(report.notes.iter().any(|n| n.contains("ignored 1 file")));
}

#[test]
fn truncated_and_oversized_zips() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let zip = zip_of(&[(
        "GO-1.json",
        br#"{"id": "GO-1", "affected": [{"package": {"ecosystem": "Go", "name": "m"}, "versions": ["v1.0.0"]}]}"#,
    )]);
    let cut = write(tmp.path(), "cut.zip", &zip[..zip.len() - 10]);
    let err = import(&db_path, &[Input::new(&cut)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    assert!(err.to_string().contains("not a valid zip archive"), "{err}");
    assert!(
        !db_path.exists(),
        "a failed first import leaves no database"
    );

    // An entry whose data is over the bound is skipped and counted, not read.
    let big = vec![b' '; (plinth_vuln::import::MAX_DOCUMENT_BYTES + 1) as usize];
    let zip = zip_of(&[("big.json", &big)]);
    let f = write(tmp.path(), "big-all.zip", &zip);
    let report = import(&db_path, &[Input::new(&f)], &NoReporter).unwrap();
    let s = report.source("osv:big").unwrap();
    assert_eq!(s.skipped.get(&SkipReason::InvalidRecord), Some(&1));
}

#[test]
fn alpine_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let yaml = b"---\ndistroversion: v3.99\nreponame: main\npackages:\n  - pkg:\n      name: foo\n      secfixes:\n        1.0-r1:\n          - CVE-2020-0001 CVE-2020-0002\n        2.7.16-33:\n          - CVE-2020-0003\n        \"0\":\n          - CVE-2020-0004\n        1.1-r0:\n          - CVE-2020-0001\n  - pkg:\n      name: bar\n";
    let f = write(tmp.path(), "main.yaml", yaml);
    let report = import(&db_path, &[Input::new(&f)], &NoReporter).unwrap();
    let s = report.source("alpine-secdb:v3.99-main").unwrap();
    assert_eq!(s.records, 3, "{s:?}");
    assert_eq!(s.skipped.get(&SkipReason::UnparseableVersion), Some(&1));
    let db = Db::open(&db_path).unwrap();
    let foo = db.advisories("alpine:3.99", "foo").unwrap();
    let one = foo.iter().find(|a| a.id == "CVE-2020-0001").unwrap();
    assert_eq!(
        one.ranges[0].fixed.as_deref(),
        Some("1.1-r0"),
        "listed twice: the later fix"
    );
    let four = foo.iter().find(|a| a.id == "CVE-2020-0004").unwrap();
    assert_eq!(four.status, Status::NotAffected);

    let bad = write(tmp.path(), "bad.yaml", b"distroversion: [unclosed\n");
    let err = import(&db_path, &[Input::new(&bad)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    let nover = write(tmp.path(), "nover.yaml", b"packages: []\n");
    let err = import(&db_path, &[Input::new(&nover)], &NoReporter).unwrap_err();
    assert!(err.to_string().contains("distroversion"), "{err}");
}

/// `--db notes.txt` silently replaced the user's file; a damaged plinth database is still
/// rebuilt.
#[test]
fn corrupt_database_file() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    fs_err::write(&db_path, vec![0xab; 8192]).unwrap();
    let err = Db::open(&db_path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("run `plinth db import` / `plinth db update` again"),
        "{err}"
    );
    // It is not a plinth database at all: an import refuses to replace it (it could be
    // a user's file given as `--db` by mistake) and leaves it as it was.
    let f = write(tmp.path(), "tracker.json", TRACKER.as_bytes());
    let err = import(&db_path, &[Input::new(&f)], &NoReporter).unwrap_err();
    assert!(matches!(err, Error::Foreign { .. }), "{err}");
    assert_eq!(fs_err::read(&db_path).unwrap(), vec![0xab; 8192]);

    // A damaged plinth database (its header intact, its pages overwritten) is replaced,
    // and the import says so.
    fs_err::remove_file(&db_path).unwrap();
    import(&db_path, &[Input::new(&f)], &NoReporter).unwrap();
    let mut bytes = fs_err::read(&db_path).unwrap();
    for b in &mut bytes[100..] {
        *b = 0xab;
    }
    fs_err::write(&db_path, &bytes).unwrap();
    assert!(Db::open(&db_path).is_err());
    let report = import(&db_path, &[Input::new(&f)], &NoReporter).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("previous database was replaced")),
        "{:?}",
        report.notes
    );
    assert_eq!(Db::open(&db_path).unwrap().count().unwrap(), 5);

    // A database truncated mid-file.
    let bytes = fs_err::read(&db_path).unwrap();
    fs_err::write(&db_path, &bytes[..bytes.len() / 2]).unwrap();
    let result = Db::open(&db_path).and_then(|db| db.advisories("debian:12", "zlib"));
    if let Err(err) = result {
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}

#[test]
fn missing_input_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = import(
        &tmp.path().join("vuln.db"),
        &[Input::new(tmp.path().join("nope.json"))],
        &NoReporter,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope.json"), "{err}");
}

/// Two imports of different feeds at once both reported success and one feed was lost:
/// writers now take the database's lock, so both land.
#[test]
fn concurrent_imports_of_different_feeds_both_land() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let tracker = write(tmp.path(), "tracker.json", TRACKER.as_bytes());
    let osv = write(
        tmp.path(),
        "GO-2099-0001.json",
        br#"{"id":"GO-2099-0001","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}"#,
    );
    for round in 0..5 {
        let _ = fs_err::remove_file(&db_path);
        std::thread::scope(|s| {
            let a = s.spawn(|| import(&db_path, &[Input::new(&tracker)], &NoReporter));
            let b = s.spawn(|| import(&db_path, &[Input::new(&osv)], &NoReporter));
            a.join().unwrap().unwrap();
            b.join().unwrap().unwrap();
        });
        let names: Vec<String> = Db::open(&db_path)
            .unwrap()
            .sources()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert!(
            names.iter().any(|n| n == "debian-tracker")
                && names.iter().any(|n| n.starts_with("osv")),
            "round {round}: {names:?}"
        );
    }
}

/// After `kill -9` during an import, `.vuln.db.import-*` files stayed for good; the next
/// writer removes what a dead one left.
#[test]
fn the_next_import_removes_what_a_killed_one_left() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = tmp.path().join("vuln.db");
    let stale = write(tmp.path(), ".vuln.db.import-dead1", b"half a database");
    let stale_dir = tmp.path().join(".vuln.db.download-dead2");
    fs_err::create_dir(&stale_dir).unwrap();
    write(&stale_dir, "feed.zip", b"half a feed");
    let other = write(tmp.path(), ".other.db.import-alive", b"not ours");
    let tracker = write(tmp.path(), "tracker.json", TRACKER.as_bytes());
    import(&db_path, &[Input::new(&tracker)], &NoReporter).unwrap();
    assert!(!stale.exists() && !stale_dir.exists());
    assert!(
        other.exists(),
        "another database's temporaries are not touched"
    );
}
