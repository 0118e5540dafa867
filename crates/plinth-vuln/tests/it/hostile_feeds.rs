//! Feeds built so that parsing them grows faster than their size (issue 12, point 3):
//! each is generated here, imported under a hang guard, and must end in a clear error or
//! a correct import. No timings are asserted: the guard only turns a hang into a
//! failure. `bench/hostile-feeds` measures the same inputs at N and 2N.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use plinth_core::progress::NoReporter;
use plinth_vuln::import::{Format, ImportReport, Input, SkipReason, import};
use plinth_vuln::{Db, Error};

/// Far more than any of these takes when linear (well under a second each), far less
/// than the quadratic versions took (minutes to hours).
const GUARD: Duration = Duration::from_secs(120);

/// Imports `path` into a fresh database in `dir` on another thread; panics if that takes
/// longer than [`GUARD`].
fn import_guarded(dir: &Path, path: &Path) -> Result<ImportReport, Error> {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    let input = if lower.ends_with("osv.json") {
        Input::new(path).with_format(Format::Osv)
    } else {
        Input::new(path)
    };
    let db = dir.join("vuln.db");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(import(&db, &[input], &NoReporter));
    });
    match rx.recv_timeout(GUARD) {
        Ok(r) => r,
        Err(_) => panic!("importing {} hung (over {GUARD:?})", path.display()),
    }
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs_err::write(&path, content).unwrap();
    path
}

fn parse_detail(e: &Error) -> &str {
    match e {
        Error::Parse { detail, .. } => detail,
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// `packages: [[[[…]]]]` (or `{a: {a: …}}`), `depth` deep.
fn nested_yaml(depth: usize, mapping: bool) -> Vec<u8> {
    let mut y = b"distroversion: v3.20\nreponame: main\npackages: ".to_vec();
    if mapping {
        y.extend(b"{a: ".repeat(depth));
        y.extend(b"1");
        y.extend(b"}".repeat(depth));
    } else {
        y.extend(b"[".repeat(depth));
        y.extend(b"]".repeat(depth));
    }
    y.push(b'\n');
    y
}

#[test]
fn alpine_yaml_with_200000_nested_brackets_is_refused_not_hung() {
    let tmp = tempfile::tempdir().unwrap();
    for mapping in [false, true] {
        let f = write(tmp.path(), "main.yaml", &nested_yaml(200_000, mapping));
        let e = import_guarded(tmp.path(), &f).unwrap_err();
        let detail = parse_detail(&e);
        assert!(detail.contains("nested deeper than 64"), "{detail}");
        assert!(!e.is_internal());
    }
    // Just under the bound is not refused by the bound (serde_norway says what is wrong).
    let f = write(tmp.path(), "main.yaml", &nested_yaml(64, false));
    let e = import_guarded(tmp.path(), &f).unwrap_err();
    assert!(!parse_detail(&e).contains("nested deeper"), "{e}");
}

#[test]
fn alpine_yaml_brackets_in_text_do_not_count_as_nesting() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = "[".repeat(100);
    let yaml = format!(
        "---\ndistroversion: v3.20\nreponame: main\n# {deep}\n\
         apkurl: \"{{{{urlprefix}}}}/{{{{pkg.name}}}}-{deep}.apk\"\nnote: '{deep}'\n\
         text: |\n  {deep}\n  {deep}\npackages:\n  - pkg:\n      name: foo {deep}\n      secfixes:\n        1.0-r1:\n          - CVE-2020-0001 ({deep})\n"
    );
    let f = write(tmp.path(), "main.yaml", yaml.as_bytes());
    let report = import_guarded(tmp.path(), &f).unwrap();
    assert_eq!(report.records(), 1, "{report:?}");
}

#[test]
fn alpine_package_with_100000_ids_imports_in_one_pass() {
    // Each id was looked up in a list of the package's ids so far: quadratic.
    let tmp = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "distroversion: v3.20\nreponame: main\npackages:\n  - pkg:\n      name: foo\n      secfixes:\n        1.0-r1:\n",
    );
    for i in 0..100_000 {
        yaml.push_str(&format!(
            "          - CVE-2020-{:06} CVE-2020-{:06}\n",
            i, i
        ));
    }
    let f = write(tmp.path(), "main.yaml", yaml.as_bytes());
    let report = import_guarded(tmp.path(), &f).unwrap();
    assert_eq!(report.records(), 100_000);
}

#[test]
fn osv_zip_with_20000_overlapping_entries_is_refused_not_hung() {
    // Each entry inflated the same 16 MiB again: 20,000 × 16 MiB from a 1 MB file.
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "Go-all.zip",
        &crate::overlapping_zip::overlapping_zip(20_000, 16 << 20),
    );
    let e = import_guarded(tmp.path(), &f).unwrap_err();
    assert!(parse_detail(&e).contains("overlap"), "{e}");
    assert!(!tmp.path().join("vuln.db").exists(), "nothing written");
}

/// One OSV record for `golang.org/x/text` with `n` affected entries of one version each,
/// and `aliases` aliases.
fn wide_osv_record(n: usize, aliases: usize) -> String {
    let affected: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"package": {{"ecosystem": "Go", "name": "golang.org/x/text"}}, "versions": ["0.{i}.0"], "ranges": [{{"type": "SEMVER", "events": [{{"introduced": "0.{i}.0"}}, {{"fixed": "0.{i}.1"}}]}}]}}"#
            )
        })
        .collect();
    let aliases: Vec<String> = (0..aliases)
        .map(|i| format!("\"CVE-2020-{i:06}\""))
        .collect();
    format!(
        r#"{{"id": "GO-2020-0001", "aliases": [{}], "severity": [{}], "affected": [{}]}}"#,
        aliases.join(","),
        (0..n)
            .map(|_| r#"{"type": "X", "score": "y"}"#)
            .collect::<Vec<_>>()
            .join(","),
        affected.join(",")
    )
}

#[test]
fn osv_record_with_50000_entries_for_one_package_merges_in_one_pass() {
    // Merging scanned the advisories so far, and each one's ranges and versions, for
    // every entry; rating scanned the record's severity list for every entry too.
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "GO-2020-0001.osv.json",
        wide_osv_record(50_000, 10).as_bytes(),
    );
    let report = import_guarded(tmp.path(), &f).unwrap();
    assert_eq!(report.records(), 1, "{report:?}");
    let db = Db::open(&tmp.path().join("vuln.db")).unwrap();
    let advs = db.advisories("go", "golang.org/x/text").unwrap();
    assert_eq!(advs[0].versions.len(), 50_000);
    assert_eq!(advs[0].ranges.len(), 50_000);
    assert_eq!(advs[0].aliases.len(), 10);
}

#[test]
fn osv_record_with_200000_aliases_is_skipped_not_copied_into_each_advisory() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "GO-2020-0001.osv.json",
        wide_osv_record(10, 200_000).as_bytes(),
    );
    let report = import_guarded(tmp.path(), &f).unwrap();
    let s = report.source("osv:GO-2020-0001.osv").unwrap();
    assert_eq!(s.records, 0);
    assert_eq!(
        s.skipped.get(&SkipReason::OversizedField),
        Some(&1),
        "{s:?}"
    );
}

#[test]
fn osv_record_with_a_huge_summary_and_20000_packages_stays_linear() {
    // The summary was copied whole into each package's advisory: 8 MB × 20,000.
    let tmp = tempfile::tempdir().unwrap();
    let affected: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                r#"{{"package": {{"ecosystem": "Go", "name": "example.com/m{i}"}}, "versions": ["1.0.0"]}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"id": "GO-2020-0001", "summary": "{}", "affected": [{}]}}"#,
        "x".repeat(8 << 20),
        affected.join(",")
    );
    let f = write(tmp.path(), "GO-2020-0001.osv.json", json.as_bytes());
    let report = import_guarded(tmp.path(), &f).unwrap();
    assert_eq!(report.records(), 20_000, "{report:?}");
    let db = Db::open(&tmp.path().join("vuln.db")).unwrap();
    let advs = db.advisories("go", "example.com/m7").unwrap();
    assert_eq!(advs[0].summary.as_deref().map(str::len), Some(4096));
}

#[test]
fn json_feeds_nested_200000_deep_are_refused_not_hung() {
    // serde_json stops at 128 levels and skips ignored values without recursing:
    // checked here so that it stays so for every JSON importer (no hang, no stack
    // overflow).
    let tmp = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    for (name, doc) in [
        (
            "tracker.json",
            format!(r#"{{"zlib": {{"CVE-1": {{"releases": {deep}}}}}}}"#),
        ),
        (
            "rec.osv.json",
            format!(r#"{{"id": "GO-1", "database_specific": {deep}}}"#),
        ),
        (
            "secdb.json",
            format!(r#"{{"distroversion": "v3.20", "packages": {deep}}}"#),
        ),
        (
            "CVE-1.json",
            format!(r#"{{"Header": {{"ID": "CVE-1"}}, "Annotations": {deep}}}"#),
        ),
    ] {
        let f = write(tmp.path(), name, doc.as_bytes());
        // A refusal (too deep, or the wrong type where a value is typed) or, where the
        // value is ignored (serde skips it without recursing), an import of nothing.
        match import_guarded(tmp.path(), &f) {
            Ok(r) => assert_eq!(r.records(), 0, "{name}"),
            Err(e) => {
                parse_detail(&e);
            }
        }
    }
}

#[test]
fn sbom_with_200000_packages_is_read_in_one_pass() {
    // Each package was compared with every package read before it (to drop repeats):
    // `plinth scan sbom.json` of a large SBOM grew with the square of its size.
    let components: Vec<String> = (0..200_000)
        .map(|i| {
            format!(
                r#"{{"type": "library", "name": "p{i}", "version": "1.0-1", "purl": "pkg:deb/debian/p{i}@1.0-1?arch=amd64&distro=debian-12"}}"#
            )
        })
        .chain(std::iter::once(
            r#"{"type": "library", "name": "p7", "version": "1.0-1", "purl": "pkg:deb/debian/p7@1.0-1?arch=amd64&distro=debian-12"}"#
                .to_string(),
        ))
        .collect();
    let doc = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": [{}]}}"#,
        components.join(",")
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(plinth_vuln::sbomin::read_sbom(doc.as_bytes()).map(|s| s.packages.len()));
    });
    let read = rx.recv_timeout(GUARD).expect("reading the SBOM hung");
    assert_eq!(read, Ok(200_000), "the repeated package is kept once");
}
