//! `plinth db` and `plinth scan` over real records only: the Alpine secdb data against
//! the real Alpine 3.20.3 root filesystem, the Debian tracker sample against Plinth's
//! `base` image, the Go and crates.io OSV dumps against binaries built here, and the
//! real Debian archive's changelogs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::sbom::{ALPINE, host_dpkg_rootfs};

/// A database file in `dir` holding `feeds` (paths under `tests/data/vuln`).
fn db_with(dir: &Path, feeds: &[&str]) -> PathBuf {
    let db = dir.join("vuln.db");
    let mut cmd = plinth();
    cmd.args(["db", "import", "-q", "--db"]).arg(&db);
    for f in feeds {
        cmd.arg(test_data(&format!("vuln/{f}")));
    }
    ok(&mut cmd);
    db
}

pub(crate) fn scan_json(db: &Path, target: &Path, extra: &[&str]) -> Value {
    let out = ok(plinth()
        .args(["scan", "-q", "-f", "json", "--db"])
        .arg(db)
        .arg(target)
        .args(extra));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// (id, source package, installed, fixed, binaries) of every finding.
pub(crate) type Row = (String, String, String, String, String);

pub(crate) fn rows(v: &Value) -> BTreeSet<Row> {
    let s = |f: &Value, k: &str| f[k].as_str().unwrap_or("-").to_string();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let bins: Vec<&str> = f["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            (
                s(f, "id"),
                s(f, "source_package"),
                s(f, "installed_version"),
                s(f, "fixed_version"),
                bins.join(","),
            )
        })
        .collect()
}

fn ids(v: &Value) -> BTreeSet<String> {
    rows(v).into_iter().map(|r| r.0).collect()
}

/// The real Debian records: the tracker sample and vuln-list-debian's CVE-2025-8058.
pub(crate) fn debian_db(dir: &Path) -> PathBuf {
    db_with(
        dir,
        &[
            "debian/tracker-sample.json",
            "debian/vuln-list-debian-CVE-2025-8058.json",
            "debian/vuln-list-debian-distributions.json",
        ],
    )
}

pub(crate) fn alpine_db(dir: &Path) -> PathBuf {
    db_with(
        dir,
        &[
            "alpine/v3.20-main.subset.json",
            "alpine/v3.19-main.subset.json",
        ],
    )
}

/// Ground truth: the secdb's own fixed versions against the rootfs's installed ones.
/// Alpine 3.20.3 ships openssl 3.3.2-r0, busybox 1.36.1-r29 and musl 1.2.5-r0; the
/// secdb subset fixes each of them in later revisions.
#[test]
fn alpine_rootfs_findings_come_from_the_real_secdb() {
    let alpine = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let db = alpine_db(tmp.path());
    let v = scan_json(&db, &alpine, &[]);
    assert_eq!(v["ecosystem"], "alpine:3.20", "{v:#}");
    assert_eq!(v["release_status"], "supported");
    let rows = rows(&v);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r.0 == id)
            .unwrap_or_else(|| panic!("{id} not found in {rows:#?}"))
            .clone()
    };
    assert_eq!(
        row("CVE-2024-9143"),
        (
            "CVE-2024-9143".into(),
            "openssl".into(),
            "3.3.2-r0".into(),
            "3.3.2-r1".into(),
            "libcrypto3,libssl3".into()
        )
    );
    assert_eq!(
        row("CVE-2024-58251"),
        (
            "CVE-2024-58251".into(),
            "busybox".into(),
            "1.36.1-r29".into(),
            "1.36.1-r31".into(),
            "busybox,busybox-binsh,ssl_client".into()
        )
    );
    assert_eq!(row("CVE-2025-26519").3, "1.2.5-r1");
    // One finding per (origin, CVE): every finding is for openssl, busybox or musl, and
    // the secdb data of 3.19 does not leak into 3.20.
    let origins: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        origins,
        BTreeSet::from(["busybox", "musl", "openssl"]),
        "{rows:#?}"
    );
    assert_eq!(rows.len(), 27, "{rows:#?}");
    // secdb gives no severity: all unknown, said so rather than guessed.
    assert_eq!(v["counts"]["unknown"], 27);
    assert!(v["database"]["advisories"].as_u64().unwrap() > 100);
    assert!(v["database"]["oldest_import"].is_string());

    // Gating: unknown severity never trips `--fail-on high`, `--fail-on any` does.
    ok(plinth()
        .args(["scan", "-q", "--fail-on", "high", "--db"])
        .arg(&db)
        .arg(&alpine));
    let err = fails(
        plinth()
            .args(["scan", "-q", "--fail-on", "any", "--db"])
            .arg(&db)
            .arg(&alpine),
        1,
    );
    assert!(err.contains("27 finding(s) of any severity"), "{err}");

    // The table is grouped by severity with installed and fixed-in columns, and names
    // the database and its age.
    let table = ok(plinth().args(["scan", "--db"]).arg(&db).arg(&alpine));
    assert!(table.contains("Database: "), "{table}");
    assert!(table.contains("UNKNOWN (27)"), "{table}");
    assert!(
        table.contains("INSTALLED") && table.contains("FIXED-IN"),
        "{table}"
    );
    // Numeric CVE order: 9143 before 12797.
    assert!(
        table.find("CVE-2024-9143").unwrap() < table.find("CVE-2024-12797").unwrap(),
        "{table}"
    );
}

/// The same findings from the image and from SBOMs of it: Plinth's SPDX and CycloneDX,
/// and syft's and trivy's (written by syft 1.18.1 and trivy 0.59.1; see
/// crates/plinth-vuln/tests/fixtures/sbom/README.md).
#[test]
fn scanning_an_sbom_gives_the_same_findings_as_the_image() {
    let alpine = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let db = alpine_db(tmp.path());
    let from_image = rows(&scan_json(&db, &alpine, &[]));
    assert!(!from_image.is_empty());
    let mut sboms = Vec::new();
    for (format, name) in [
        ("spdx-json", "a.spdx.json"),
        ("cyclonedx-json", "a.cdx.json"),
    ] {
        let path = tmp.path().join(name);
        ok(plinth()
            .args(["sbom", "-q", "-f", format, "-o"])
            .arg(&path)
            .arg(&alpine));
        sboms.push(path);
    }
    let fixtures = repo_root().join("crates/plinth-vuln/tests/fixtures/sbom");
    for f in [
        "syft-alpine.spdx.json",
        "syft-alpine.cdx.json",
        "trivy-alpine.spdx.json",
        "trivy-alpine.cdx.json",
    ] {
        sboms.push(fixtures.join(f));
    }
    for sbom in &sboms {
        let v = scan_json(&db, sbom, &[]);
        assert_eq!(v["ecosystem"], "alpine:3.20", "{}", sbom.display());
        let got = rows(&v);
        assert_eq!(
            got,
            from_image,
            "{}: only from the SBOM {:#?}, only from the image {:#?}",
            sbom.display(),
            got.difference(&from_image).collect::<Vec<_>>(),
            from_image.difference(&got).collect::<Vec<_>>()
        );
    }
    // A JSON file that is no SBOM is a clear exit-2 error.
    let junk = tmp.path().join("junk.json");
    fs_err::write(&junk, b"{\"hello\": 1}").unwrap();
    let err = fails(plinth().args(["scan", "--db"]).arg(&db).arg(&junk), 2);
    assert!(err.contains("is not an SBOM plinth can read"), "{err}");
}

/// Plinth's `base` image (bookworm) against the real tracker records: the release is
/// supported, and CVE-2025-8058 (glibc, fixed in 2.36-9+deb12u13) is not reported for
/// the newer libc6 the image holds.
#[test]
fn base_image_against_the_tracker_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let db = debian_db(tmp.path());
    let Some(built) = crate::debian::build_profile("base", "", &[]) else {
        return;
    };
    let v = scan_json(&db, &built.out, &[]);
    assert_eq!(v["ecosystem"], "debian:12", "{v:#}");
    assert_eq!(v["release_status"], "supported");
    let sbom: Value = serde_json::from_str(&ok(plinth()
        .args(["sbom", "-q", "-f", "plinth-json"])
        .arg(&built.out)))
    .unwrap();
    let libc6 = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    let installed = libc6["version"].as_str().unwrap();
    let newer = Command::new("dpkg")
        .args(["--compare-versions", installed, "ge", "2.36-9+deb12u13"])
        .status()
        .is_ok_and(|s| s.success());
    if newer {
        assert!(!ids(&v).contains("CVE-2025-8058"), "{v:#}");
    } else {
        assert!(ids(&v).contains("CVE-2025-8058"), "{v:#}");
    }
    // Every format writes; SARIF and CycloneDX carry the database's import time.
    for f in ["table", "sarif", "cyclonedx"] {
        let out = ok(plinth()
            .args(["scan", "-q", "-f", f, "--db"])
            .arg(&db)
            .arg(&built.out));
        if f != "table" {
            let doc: Value = serde_json::from_str(&out).unwrap();
            assert!(out.contains("oldest"), "{f}: {doc:#}");
        }
    }
}

/// The tracker sample's own verdicts on a Debian root filesystem: the traps of the
/// reference note through the CLI (status.d without Status:, an unknown release is an
/// error and never a silent zero, end-of-life is said loudly).
#[test]
fn debian_release_detection_is_loud() {
    let tmp = tempfile::tempdir().unwrap();
    let db = debian_db(tmp.path());
    // A distroless-style status.d entry for libc6 older than the fix, no os-release.
    let root = tmp.path().join("rootfs");
    fs_err::create_dir_all(root.join("var/lib/dpkg/status.d")).unwrap();
    fs_err::write(
        root.join("var/lib/dpkg/status.d/libc6"),
        "Package: libc6\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\nSource: glibc\n",
    )
    .unwrap();
    let err = fails(plinth().args(["scan", "--db"]).arg(&db).arg(&root), 2);
    assert!(err.contains("cannot tell which release"), "{err}");
    assert!(err.contains("--distro"), "{err}");

    // Named with --distro: CVE-2025-8058 is found for glibc, binary libc6.
    let v = scan_json(&db, &root, &["--distro", "debian:12"]);
    let r = rows(&v);
    assert!(
        r.iter()
            .any(|r| r.0 == "CVE-2025-8058" && r.1 == "glibc" && r.4 == "libc6"),
        "{r:#?}"
    );
    // With an os-release naming bookworm, the same.
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    assert_eq!(rows(&scan_json(&db, &root, &[])), r);

    // Debian 7 is older than any release the data holds: end-of-life, said on stderr,
    // and `--fail-on` fails because the packages were not checked.
    fs_err::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"7\"\nVERSION_CODENAME=wheezy\n",
    )
    .unwrap();
    let o = run(plinth()
        .args(["scan", "--fail-on", "critical", "--db"])
        .arg(&db)
        .arg(&root));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("NOT checked"), "{}", stderr(&o));
    assert!(stdout(&o).contains("end-of-life"), "{}", stdout(&o));
}

/// Ignore files (with a reason, maybe expired) and OpenVEX documents, through the CLI.
#[test]
fn ignore_file_and_openvex_suppress_findings() {
    let alpine = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let db = alpine_db(tmp.path());
    let ignore = tmp.path().join("ignore.toml");
    fs_err::write(
        &ignore,
        "[[ignore]]\nid = \"CVE-2024-9143\"\nreason = \"our app never parses GF(2^m) curves\"\n\
         [[ignore]]\nid = \"CVE-2025-26519\"\nreason = \"temporary\"\nexpires = \"2020-01-01\"\n",
    )
    .unwrap();
    let vex = tmp.path().join("vex.json");
    fs_err::write(
        &vex,
        r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "security@example.com",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2024-58251"},
    "products": [
      {"@id": "pkg:apk/alpine/busybox"},
      {"@id": "pkg:apk/alpine/busybox-binsh"},
      {"@id": "pkg:apk/alpine/ssl_client"}
    ],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}"#,
    )
    .unwrap();
    let o = run(plinth()
        .args(["scan", "-f", "json", "--db"])
        .arg(&db)
        .arg(&alpine)
        .arg("--ignore")
        .arg(&ignore)
        .arg("--vex")
        .arg(&vex));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let found = ids(&v);
    assert!(!found.contains("CVE-2024-9143"), "{found:?}");
    assert!(!found.contains("CVE-2024-58251"), "{found:?}");
    // The expired rule no longer applies, and a warning says so.
    assert!(found.contains("CVE-2025-26519"), "{found:?}");
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));
    let suppressed: Vec<(&str, &str)> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["finding"]["id"].as_str().unwrap(),
                s["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        suppressed.contains(&("CVE-2024-9143", "ignore-file")),
        "{suppressed:?}"
    );
    assert!(
        suppressed.contains(&("CVE-2024-58251", "openvex")),
        "{suppressed:?}"
    );
    assert_eq!(v["counts"]["suppressed"], suppressed.len());

    // A rule without a reason is refused.
    fs_err::write(&ignore, "[[ignore]]\nid = \"CVE-2024-9143\"\n").unwrap();
    let err = fails(
        plinth()
            .args(["scan", "--db"])
            .arg(&db)
            .arg(&alpine)
            .arg("--ignore")
            .arg(&ignore),
        2,
    );
    assert!(err.contains("reason"), "{err}");
}

/// Go binaries built here by Debian's toolchain, against the real Go OSV dump: the
/// toolchain's own stdlib, and a dependency pinned at a vulnerable version (vendored,
/// since no module proxy is reachable here: the build information is the toolchain's).
#[test]
fn go_binary_against_the_go_osv_dump() {
    if Command::new("go").arg("version").output().is_err() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("go is needed in CI: apt-get install -y golang-go");
        }
        eprintln!("SKIPPED: go is not installed (apt-get install -y golang-go)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(tmp.path(), &["osv/Go-all.zip"]);
    let src = tmp.path().join("src");
    let files = [
        (
            "go.mod",
            "module example.com/app\n\ngo 1.18\n\nrequire golang.org/x/text v0.3.7\n",
        ),
        (
            "vendor/modules.txt",
            "# golang.org/x/text v0.3.7\n## explicit\ngolang.org/x/text/language\n",
        ),
        (
            "vendor/golang.org/x/text/language/language.go",
            "package language\n\nfunc Parse(s string) (string, error) { return s, nil }\n",
        ),
        (
            "main.go",
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\n\
             func main() { fmt.Println(language.Parse(\"en\")) }\n",
        ),
    ];
    for (name, text) in files {
        let p = src.join(name);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
    let root = tmp.path().join("rootfs");
    fs_err::create_dir_all(root.join("usr/bin")).unwrap();
    ok(Command::new("go")
        .args(["build", "-o"])
        .arg(root.join("usr/bin/app"))
        .arg(".")
        .current_dir(&src)
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=vendor -buildvcs=false")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOPATH", tmp.path().join("gopath"))
        .env("GOCACHE", tmp.path().join("gocache")));
    let version = ok(Command::new("go").args(["env", "GOVERSION"]))
        .trim()
        .to_string();
    let v = scan_json(&db, &root, &[]);
    let r = rows(&v);
    // golang.org/x/text before 0.3.8: GO-2022-1059 (CVE-2022-32149), fixed in 0.3.8.
    assert!(
        r.iter().any(|r| r.0 == "GO-2022-1059"
            && r.1 == "golang.org/x/text"
            && r.2 == "v0.3.7"
            && r.3 == "0.3.8"),
        "{r:#?}"
    );
    // Debian 12's go1.19.8: GO-2023-1840 (setuid binaries), fixed in 1.19.10.
    if version == "go1.19.8" {
        assert!(
            r.iter()
                .any(|r| r.0 == "GO-2023-1840" && r.1 == "stdlib" && r.3 == "1.19.10"),
            "{r:#?}"
        );
    }
    for f in v["findings"].as_array().unwrap() {
        if f["id"] == "GO-2022-1059" {
            assert_eq!(f["packages"][0]["locations"][0], "usr/bin/app");
            assert!(
                f["aliases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "CVE-2022-32149")
            );
        }
    }
}

/// A Rust binary built here with `cargo auditable` and smallvec pinned at 1.6.0, against
/// the real crates.io OSV dump: RUSTSEC-2021-0003, critical by its CVSS v3 vector.
#[test]
fn rust_binary_against_the_crates_io_osv_dump() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let available = Command::new(&cargo)
        .args(["auditable", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("cargo auditable is needed in CI: cargo install cargo-auditable --locked");
        }
        eprintln!("SKIPPED: cargo auditable is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(tmp.path(), &["osv/crates.io-all.zip"]);
    let src = tmp.path().join("src");
    fs_err::create_dir_all(src.join("src")).unwrap();
    fs_err::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"vulnerable-probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nsmallvec = \"=1.6.0\"\n\n[workspace]\n",
    )
    .unwrap();
    fs_err::write(
        src.join("src/main.rs"),
        "fn main() {\n    let mut v: smallvec::SmallVec<[u8; 4]> = smallvec::SmallVec::new();\n    \
         v.push(1);\n    println!(\"{}\", v.len());\n}\n",
    )
    .unwrap();
    ok(Command::new(&cargo)
        .args(["auditable", "build", "--release", "--quiet"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", tmp.path().join("target")));
    let root = tmp.path().join("rootfs");
    fs_err::create_dir_all(root.join("usr/bin")).unwrap();
    fs_err::copy(
        tmp.path().join("target/release/vulnerable-probe"),
        root.join("usr/bin/probe"),
    )
    .unwrap();
    let v = scan_json(&db, &root, &[]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "RUSTSEC-2021-0003")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(f["source_package"], "smallvec");
    assert_eq!(f["installed_version"], "1.6.0");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["severity_source"], "CVSS_V3 (osv)");
    assert_eq!(f["packages"][0]["locations"][0], "usr/bin/probe");
    // `--fail-on critical` fails on it.
    fails(
        plinth()
            .args(["scan", "-q", "--fail-on", "critical", "--db"])
            .arg(&db)
            .arg(&root),
        1,
    );
}

/// `db import`, `db status`, a failed import that changes nothing, a corrupt database,
/// and the staleness warning.
#[test]
fn database_lifecycle_and_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(tmp.path(), &["osv/crates.io-all.zip"]);
    let status = |db: &Path| -> Value {
        serde_json::from_str(&ok(plinth()
            .args(["db", "status", "-f", "json", "--db"])
            .arg(db)))
        .unwrap()
    };
    let before = status(&db);
    assert_eq!(before["sources"][0]["name"], "osv:crates.io");
    assert_eq!(before["sources"][0]["records"], 1193);
    assert_eq!(before["sources"][0]["skipped_reasons"]["withdrawn"], 13);
    assert_eq!(before["ecosystems"][0]["ecosystem"], "crates.io");
    let table = ok(plinth().args(["db", "status", "--db"]).arg(&db));
    assert!(
        table.contains("osv:crates.io") && table.contains("1193"),
        "{table}"
    );

    // A truncated zip: exit 2 naming the file; the database is untouched.
    let zip = fs_err::read(test_data("vuln/osv/crates.io-all.zip")).unwrap();
    let bad = tmp.path().join("Truncated-all.zip");
    fs_err::write(&bad, &zip[..zip.len() / 2]).unwrap();
    let err = fails(
        plinth().args(["db", "import", "--db"]).arg(&db).arg(&bad),
        2,
    );
    assert!(err.contains("Truncated-all.zip"), "{err}");
    assert_eq!(status(&db)["sources"], before["sources"]);
    assert!(
        fs_err::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| !e.file_name().to_string_lossy().contains("import")),
        "a temporary file was left behind"
    );

    // The staleness warning, with the limit at zero days (and a second gone by).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = run(plinth()
        .args(["db", "status", "--max-db-age", "0", "--db"])
        .arg(&db));
    assert!(
        stderr(&o).contains("old (more than 0 days)"),
        "{}",
        stderr(&o)
    );

    // A corrupt database: exit 2 with the hint to re-import.
    let corrupt = tmp.path().join("corrupt.db");
    fs_err::write(&corrupt, vec![0x5a; 8192]).unwrap();
    let err = fails(
        plinth()
            .args(["scan", "--db"])
            .arg(&corrupt)
            .arg(tmp.path()),
        2,
    );
    assert!(err.contains("not a usable vulnerability database"), "{err}");
    assert!(err.contains("plinth db import"), "{err}");
    // A missing one: exit 2 telling what to run.
    let err = fails(
        plinth()
            .args(["scan", "--db"])
            .arg(tmp.path().join("none.db"))
            .arg(tmp.path()),
        2,
    );
    assert!(err.contains("plinth db update"), "{err}");
    // Importing over it is refused: it is not a plinth database at all (it could be a
    // user's file), and it is left as it was.
    let import_over = |db: &std::path::Path| {
        run(plinth()
            .args(["db", "import", "--db"])
            .arg(db)
            .arg(test_data("vuln/debian/tracker-sample.json")))
    };
    let o = import_over(&corrupt);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("refusing to replace"), "{}", stderr(&o));
    assert_eq!(fs_err::read(&corrupt).unwrap(), vec![0x5a; 8192]);
    // A damaged plinth database (header intact, pages overwritten) is replaced, and the
    // import says so.
    let damaged = tmp.path().join("damaged.db");
    assert!(import_over(&damaged).status.success());
    let mut bytes = fs_err::read(&damaged).unwrap();
    bytes[100..].fill(0x5a);
    fs_err::write(&damaged, &bytes).unwrap();
    let o = import_over(&damaged);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("replaced"), "{}", stderr(&o));
}

/// When no feed can be reached (here: a closed port on 127.0.0.1), `db update` exits 2
/// naming each URL once, says how to import offline, and leaves no database behind.
#[test]
fn db_update_with_no_reachable_feed_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    // Bind and drop a listener: its port is closed now, so connecting is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/osv");
    let o = plinth()
        .args([
            "db",
            "update",
            "-q",
            "--only",
            "osv:Go",
            "--osv-url",
            &url,
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no feed could be downloaded"), "{err}");
    assert_eq!(
        err.matches(&format!("{url}/Go/all.zip")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("plinth db import"),
        "{err}"
    );
    assert!(!db.exists());
}

/// `db update` downloads every feed by URL, here from a server on 127.0.0.1 holding the
/// feed files of tests/data, and records each feed's URL as its origin.
#[test]
fn db_update_downloads_feeds_from_a_local_server() {
    let vuln = test_data("vuln");
    if Command::new("python3").arg("--version").output().is_err() {
        panic!("python3 is needed for the local HTTP server");
    }
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    fs_err::create_dir_all(site.join("osv/Go")).unwrap();
    fs_err::create_dir_all(site.join("alpine/v3.20")).unwrap();
    fs_err::copy(
        vuln.join("debian/tracker-sample.json"),
        site.join("tracker.json"),
    )
    .unwrap();
    fs_err::copy(vuln.join("osv/Go-all.zip"), site.join("osv/Go/all.zip")).unwrap();
    fs_err::copy(
        vuln.join("alpine/v3.20-main.subset.json"),
        site.join("alpine/v3.20/main.json"),
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(&site)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stopped by its own handle (its PID) even when an assertion fails.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let server = Kill(server);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let db = tmp.path().join("vuln.db");
    let o = run(plinth()
        .args(["db", "update", "--db"])
        .arg(&db)
        .arg("--debian-tracker-url")
        .arg(format!("{base}/tracker.json"))
        .arg("--osv-url")
        .arg(format!("{base}/osv"))
        .arg("--alpine-secdb-url")
        .arg(format!("{base}/alpine"))
        .args([
            "--only",
            "debian-tracker,osv:Go,alpine-secdb:v3.20-main,alpine-secdb:v3.21-main",
        ]));
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    // v3.21 is not on the server: left out with a warning, the rest imported.
    assert!(
        stderr(&o).contains("alpine-secdb:v3.21-main was not updated"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_str(&ok(plinth()
        .args(["db", "status", "-f", "json", "--db"])
        .arg(&db)))
    .unwrap();
    let sources: Vec<(String, String, u64)> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["origin"].as_str().unwrap().to_string(),
                s["records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        vec![
            (
                "alpine-secdb:v3.20-main".into(),
                format!("{base}/alpine/v3.20/main.json"),
                121
            ),
            ("debian-tracker".into(), format!("{base}/tracker.json"), 25),
            ("osv:Go".into(), format!("{base}/osv/Go/all.zip"), 321),
        ]
    );
    // An unknown feed name is an exit-2 error listing the real ones.
    let err = fails(
        plinth()
            .args(["db", "update", "--only", "osv:Cobol", "--db"])
            .arg(&db),
        2,
    );
    assert!(err.contains("debian-tracker"), "{err}");
}

/// With no feed at all: the newest versions in the signed archive and the CVE ids their
/// changelogs name, for this machine's own dpkg database.
#[test]
fn fixes_from_the_archive_for_this_machines_packages() {
    if !Path::new("/var/lib/dpkg/status").exists() {
        eprintln!("SKIPPED: this machine has no dpkg database");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = host_dpkg_rootfs(tmp.path());
    let o = run(plinth()
        .args(["scan", "-q", "--fixes-from-archive", "-f", "json"])
        .arg(&root));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["release"].is_string());
    let suites: Vec<&str> = v["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!suites.is_empty(), "{v:#}");
    for s in v["suites"].as_array().unwrap() {
        assert!(
            !s["signer"].as_str().unwrap().is_empty(),
            "unsigned suite {s}"
        );
    }
    let up = v["up_to_date"].as_u64().unwrap();
    let updates = v["updates"].as_array().unwrap();
    assert!(up + updates.len() as u64 > 100, "{v:#}");
    for u in updates {
        let (installed, newest) = (
            u["installed"].as_str().unwrap(),
            u["newest"].as_str().unwrap(),
        );
        assert!(
            Command::new("dpkg")
                .args(["--compare-versions", newest, "gt", installed])
                .status()
                .unwrap()
                .success(),
            "{u}"
        );
        for id in u["cve_ids"].as_array().unwrap() {
            assert!(id.as_str().unwrap().starts_with("CVE-"), "{u}");
        }
    }
    // linux-libc-dev holds no kernel code: never listed for the kernel's CVEs.
    let installed = fs_err::read_to_string("/var/lib/dpkg/status").unwrap();
    if installed.contains("Package: linux-libc-dev\n") {
        assert!(
            v["kernel_headers"]
                .as_array()
                .is_some_and(|k| k.iter().any(|b| b == "linux-libc-dev")),
            "{v:#}"
        );
        for u in updates {
            assert!(
                !u["binaries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b == "linux-libc-dev"),
                "{u}"
            );
        }
    }
    // Not Debian: a clear error.
    let alpine = test_data(ALPINE);
    let err = fails(
        plinth().args(["scan", "--fixes-from-archive"]).arg(&alpine),
        2,
    );
    assert!(err.contains("for Debian images"), "{err}");
}

/// `compare` gains CVE counts per severity, and the HTML report a CVE chart.
#[test]
fn compare_shows_cves_per_severity() {
    let alpine = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with(
        tmp.path(),
        &["alpine/v3.20-main.subset.json", "osv/crates.io-all.zip"],
    );
    let spec = copy_example(&tmp.path().join("hello"));
    let hello = tmp.path().join("hello-layout");
    build(&spec, &hello, &[]);
    let html = tmp.path().join("report.html");
    let table = ok(plinth()
        .args(["compare", "--db"])
        .arg(&db)
        .arg(&alpine)
        .arg(&hello)
        .arg("--html")
        .arg(&html));
    let cves = table
        .lines()
        .find(|l| l.starts_with("cves"))
        .unwrap_or_else(|| panic!("no cves row in\n{table}"));
    assert!(cves.contains("27 (27 unknown)"), "{cves}");
    let v: Value = serde_json::from_str(&ok(plinth()
        .args(["compare", "--format", "json", "--db"])
        .arg(&db)
        .arg(&alpine)
        .arg(&hello)))
    .unwrap();
    assert_eq!(v[0]["cves"]["unknown"], 27);
    assert_eq!(v[1]["cves"]["unknown"], 0);
    let page = fs_err::read_to_string(&html).unwrap();
    assert!(page.contains("CVEs"), "no CVE chart in the report");
    // Without a database: a notice, no CVE row.
    let o = run(plinth().arg("compare").arg(&alpine).arg(&hello));
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("no vulnerability database"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).lines().any(|l| l.starts_with("cves")));
}

/// Things that are not feeds or images: a FIFO (which would block a read forever) and a
/// directory without feed files are exit-2 errors naming them, within seconds.
#[test]
fn fifos_and_empty_directories_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("feed.json");
    ok(Command::new("mkfifo").arg(&fifo));
    let empty = tmp.path().join("empty");
    fs_err::create_dir(&empty).unwrap();
    let db = tmp.path().join("vuln.db");
    let limit = std::time::Duration::from_secs(30);
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                "db".into(),
                "import".into(),
                "--db".into(),
                db.clone().into(),
                fifo.clone().into(),
            ],
            "not a regular file",
        ),
        (
            vec![
                "db".into(),
                "import".into(),
                "--db".into(),
                db.clone().into(),
                empty.clone().into(),
            ],
            "no feed data",
        ),
        (
            vec![
                "scan".into(),
                "--db".into(),
                db.clone().into(),
                fifo.clone().into(),
            ],
            "not a regular file",
        ),
        (
            vec!["sbom".into(), fifo.clone().into()],
            "not a regular file",
        ),
    ];
    for (args, want) in cases {
        let o = crate::common::run_with_timeout(plinth().args(&args), limit)
            .unwrap_or_else(|| panic!("plinth {args:?} did not finish in {limit:?}"));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(!db.exists(), "a failed first import left a database behind");
}
