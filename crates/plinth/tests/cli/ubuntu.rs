//! Ubuntu (issue 17, point 1): the Debian path with Ubuntu's keyring, suites and names,
//! built offline from the repository's synthetic, test-signed Ubuntu archive
//! (`tests/data/repos/ubuntu-noble-test`; no real Ubuntu archive can be reached from
//! here, and Ubuntu's real keyring is tested against what it must refuse).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// `examples/ubuntu`, from its committed lock.
const UBUNTU_BASE: &str = "sha256:e198968c41dc3787b86fceb7d13ca013595d539ccf8d0fa62676496a47ad72d8";

fn example() -> PathBuf {
    repo_root().join("examples/ubuntu/plinth.toml")
}

fn test_repo() -> PathBuf {
    repo_root().join("tests/data/repos/ubuntu-noble-test")
}

fn build_to(spec: &Path, out: &Path, cache: &Path) -> std::process::Output {
    run(plinth()
        .arg("build")
        .arg(spec)
        .arg("-q")
        .arg("-o")
        .arg(out)
        .arg("--cache-dir")
        .arg(cache))
}

#[test]
fn ubuntu_example_builds_offline_to_its_golden_digest_and_says_ubuntu_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = build_to(&example(), &out, &tmp.path().join("cache"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), UBUNTU_BASE);
    validate_image(&out);
    // Again, from a fresh cache: the same bytes.
    let o = build_to(
        &example(),
        &tmp.path().join("out2"),
        &tmp.path().join("cache2"),
    );
    assert_eq!(stdout(&o).trim(), UBUNTU_BASE, "{}", stderr(&o));
    // The newest version of each suite won: the update and the security fix.
    let lock = fs_err::read_to_string(repo_root().join("examples/ubuntu/plinth.lock")).unwrap();
    assert!(lock.contains("version = \"13ubuntu10.1\""), "{lock}");
    assert!(lock.contains("suite = \"noble-security\""), "{lock}");
    let sbom: serde_json::Value = serde_json::from_str(&ok(plinth()
        .args(["sbom", "--format", "spdx-json"])
        .arg(&out)))
    .unwrap();
    let purls: Vec<String> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["referenceLocator"].as_str().map(str::to_string))
        .filter(|l| l.starts_with("pkg:deb/"))
        .collect();
    assert_eq!(purls.len(), 8, "{purls:?}");
    assert!(
        purls
            .iter()
            .all(|p| p.starts_with("pkg:deb/ubuntu/") && p.contains("distro=ubuntu-24.04")),
        "{purls:?}"
    );
    let table = ok(plinth().args(["sbom", "--format", "table"]).arg(&out));
    assert!(table.contains("Ubuntu 24.04"), "{table}");
    // syft and trivy read the same: Ubuntu 24.04 and the eight packages.
    if let Some(trivy) = crate::sbom::trivy()
        && have_tool("umoci")
    {
        let bundle = tmp.path().join("bundle");
        ok(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", out.display()))
            .arg(&bundle));
        let text = ok(Command::new(trivy)
            .arg("rootfs")
            .arg(bundle.join("rootfs"))
            .args([
                "--format",
                "json",
                "--list-all-pkgs",
                "--scanners",
                "",
                "--quiet",
            ])
            .arg("--cache-dir")
            .arg(tmp.path().join("trivy-cache")));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Metadata"]["OS"]["Family"], "ubuntu", "{text}");
        assert_eq!(v["Metadata"]["OS"]["Name"], "24.04", "{text}");
        let count: usize = v["Results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["Class"] == "os-pkgs")
            .map(|r| r["Packages"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(count, 8, "{text}");
    }
    if let Some(syft) = venv_tool("syft") {
        let o = run(Command::new(syft)
            .arg(format!("oci-dir:{}", out.display()))
            .args(["-o", "json", "-q"]));
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["distro"]["id"], "ubuntu");
        assert_eq!(v["distro"]["versionID"], "24.04");
        let mut names: Vec<&str> = v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "deb")
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "base-files",
                "ca-certificates",
                "libc6",
                "libgcc-s1",
                "libssl3t64",
                "media-types",
                "netbase",
                "tzdata"
            ]
        );
    }
}

/// Without `keys`, an [ubuntu] spec trusts Ubuntu's real archive keyring (shipped with
/// Plinth), which did not sign the test archive: refused, naming the suite.
#[test]
fn ubuntu_archive_keyring_refuses_an_archive_it_did_not_sign() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        &format!(
            "[image]\nprofile = \"static\"\n[ubuntu]\nrelease = \"noble\"\nmirror = \"file://{}\"\n",
            test_repo().display()
        ),
        &[],
    );
    let out = tmp.path().join("out");
    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .arg("--cache-dir")
            .arg(tmp.path().join("cache")),
        2,
    );
    assert!(err.contains("noble"), "{err}");
    assert!(
        err.contains("signature") || err.contains("key"),
        "the error says why it is refused: {err}"
    );
    assert!(!out.exists());
    assert!(!tmp.path().join("plinth.lock").exists());
}

/// A modified index in the Ubuntu archive is refused against its signed hash.
#[test]
fn a_modified_ubuntu_index_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    ok(Command::new("cp").arg("-r").arg(test_repo()).arg(&repo));
    let packages = repo.join("dists/noble/main/binary-amd64/Packages.gz");
    let mut bytes = fs_err::read(&packages).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs_err::write(&packages, bytes).unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[ubuntu]\nrelease = \"noble\"\nmirror = \"repo\"\nkeys = [\"repo/key.asc\"]\n",
        &[],
    );
    let err = fails(
        plinth()
            .arg("lock")
            .arg(&spec)
            .arg("--cache-dir")
            .arg(tmp.path().join("cache")),
        2,
    );
    assert!(err.contains("Packages"), "{err}");
    assert!(!tmp.path().join("plinth.lock").exists());
}

#[test]
fn releases_and_tables_must_agree_and_ubuntu_needs_its_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[debian]\nrelease = \"noble\"\n",
        &[],
    );
    let err = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(
        err.contains("`noble` is a release of ubuntu, not of debian"),
        "{err}"
    );
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[ubuntu]\nrelease = \"bookworm\"\n",
        &[],
    );
    let err = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(
        err.contains("`bookworm` is a release of debian, not of ubuntu"),
        "{err}"
    );
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[ubuntu]\n[debian]\n",
        &[],
    );
    let err = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(err.contains("both [debian] and [ubuntu]"), "{err}");
    let spec = write_spec(tmp.path(), "[image]\nprofile = \"static\"\n[ubuntu]\n", &[]);
    let err = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(
        err.contains("needs the Ubuntu archive's URI for noble"),
        "{err}"
    );
}

/// Ubuntu images are matched against OSV's Ubuntu records (ecosystem `Ubuntu:24.04:LTS`,
/// source package names, Ubuntu's own priority), not Debian's; `Ubuntu:Pro:…` streams
/// and other releases do not apply. The records are written here in the shape OSV
/// publishes (OSV's Ubuntu feed cannot be downloaded on this machine), with made-up ids.
#[test]
fn ubuntu_images_are_scanned_with_osv_ubuntu_records() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = build_to(&example(), &out, &tmp.path().join("cache"));
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = tmp.path().join("osv");
    fs_err::create_dir_all(&recs).unwrap();
    let record = |id: &str, eco: &str, name: &str, fixed: &str, priority: &str| {
        let v = serde_json::json!({
            "schema_version": "1.6.3", "id": id, "modified": "2026-11-30T00:00:00Z",
            "upstream": [id.trim_start_matches("UBUNTU-")], "details": "test record",
            "affected": [{"package": {"ecosystem": eco, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
            "severity": [{"type": "Ubuntu", "score": priority}]
        });
        fs_err::write(recs.join(format!("{id}.json")), v.to_string()).unwrap();
    };
    record(
        "UBUNTU-CVE-2099-0001",
        "Ubuntu:24.04:LTS",
        "base-files",
        "13ubuntu10.2",
        "medium",
    );
    record(
        "UBUNTU-CVE-2099-0002",
        "Ubuntu:24.04:LTS",
        "tzdata",
        "2025b-0ubuntu0.24.04.1",
        "high",
    );
    record(
        "UBUNTU-CVE-2099-0003",
        "Ubuntu:22.04:LTS",
        "base-files",
        "99",
        "critical",
    );
    record(
        "UBUNTU-CVE-2099-0004",
        "Ubuntu:Pro:24.04:LTS",
        "base-files",
        "99",
        "critical",
    );
    let db = tmp.path().join("vuln.db");
    ok(plinth()
        .args(["db", "import", "-q", "--db"])
        .arg(&db)
        .arg(&recs));
    let o = run(plinth().arg("scan").arg("--db").arg(&db).arg(&out));
    let text = stdout(&o);
    assert!(text.contains("[ubuntu:24.04]"), "{text}");
    assert!(
        text.contains("Found:    1 (critical 0, high 0, medium 1,"),
        "only base-files is behind its fix: {text}"
    );
    assert!(
        text.contains("UBUNTU-CVE-2099-0001  base-files  13ubuntu10.1  13ubuntu10.2"),
        "{text}"
    );
}
