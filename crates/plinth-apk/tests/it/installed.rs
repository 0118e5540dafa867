//! The installed database written for the real alpine-baselayout package, checked against
//! lines of a real Alpine database (the 3.20.3 minirootfs, whose alpine-baselayout 3.6.5
//! ships some of the same files) and read back by syft and trivy.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use plinth_apk::index::parse_index;
use plinth_apk::installed::{InstalledPackage, Setup, installed_database, write_database};
use plinth_apk::package::{Limits, verify_package};
use plinth_apk::write::{FileSpec, PackageSpec, build_package};

use crate::support::*;

fn real_installed() -> InstalledPackage {
    let bytes = read("alpine-baselayout-3.2.0-r23.apk");
    let pkg = verify_package("pkg", &bytes, &alpine_keys(), None).unwrap();
    let entries = pkg.data_entries(&bytes, &Limits::default()).unwrap();
    InstalledPackage {
        info: pkg.pkginfo.info.clone(),
        entries,
    }
}

#[test]
fn real_package_database_record() {
    let db = installed_database(&[real_installed()]);
    let head = "C:Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=\nP:alpine-baselayout\nV:3.2.0-r23\nA:aarch64\nS:11012\nI:339968\n\
                T:Alpine base dir structure and init scripts\n\
                U:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout\nL:GPL-2.0-only\n\
                o:alpine-baselayout\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1662926906\n\
                c:348653a9ba0701e8e968b3344e72313a9ef334e4\n\
                D:alpine-baselayout-data=3.2.0-r23 /bin/sh so:libc.musl-aarch64.so.1\n\
                p:cmd:mkmntdirs=3.2.0-r23\nF:dev\nF:dev/pts\n";
    assert!(db.starts_with(head), "{db}");
    assert!(db.ends_with("\n\n"));
    // These blocks are byte for byte what apk wrote into Alpine 3.20.3's database for
    // the same files (alpine-minirootfs-3.20.3, lib/apk/db/installed).
    for block in [
        "F:etc/crontabs\nR:root\na:0:0:600\nZ:Q1vfk1apUWI4yLJGhhNRd0kJixfvY=\n",
        "F:etc/modprobe.d\nR:aliases.conf\nZ:Q1WUbh6TBYNVK7e4Y+uUvLs/7viqk=\n",
        "F:root\nM:0:0:700\n",
        "F:tmp\nM:0:0:1777\n",
        "F:var/spool\nR:mail\na:0:0:777\nZ:Q1dzbdazYZA2nTzSIG3YyNw7d4Juc=\n",
        "R:run\na:0:0:777\nZ:Q11/SNZz/8cK2dSKK+cJpVrZIuF4Q=\n",
    ] {
        assert!(db.contains(block), "missing {block:?} in\n{db}");
    }
    // Every directory line once; every file has a Z:.
    let f = db.lines().filter(|l| l.starts_with("F:")).count();
    let r = db.lines().filter(|l| l.starts_with("R:")).count();
    let z = db.lines().filter(|l| l.starts_with("Z:")).count();
    assert_eq!((r, z), (14, 14));
    assert_eq!(f, 69);
    // The database parses back to the same package fields.
    let back = parse_index(&db).unwrap();
    assert_eq!(back, [real_installed().info]);
}

type PkgSet = BTreeSet<(String, String)>;

fn syft_packages(root: &Path) -> Option<PkgSet> {
    let syft = venv_tool("syft")?;
    let out = Command::new(syft)
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .args(["scan", "-q", "-o", "json"])
        .arg(format!("dir:{}", root.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "apk")
            .map(|a| {
                (
                    a["name"].as_str().unwrap().into(),
                    a["version"].as_str().unwrap().into(),
                )
            })
            .collect(),
    )
}

fn trivy_packages(root: &Path, cache: &Path) -> Option<PkgSet> {
    let trivy = venv_tool("trivy")?;
    let out = Command::new(trivy)
        .arg("rootfs")
        .args([
            "--format",
            "json",
            "--list-all-pkgs",
            "--scanners",
            "",
            "--quiet",
            "--cache-dir",
        ])
        .arg(cache)
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut set = PkgSet::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        if r["Class"] != "os-pkgs" {
            continue;
        }
        for p in r["Packages"].as_array().into_iter().flatten() {
            set.insert((
                p["Name"].as_str().unwrap().into(),
                p["Version"].as_str().unwrap().into(),
            ));
        }
    }
    Some(set)
}

/// The real alpine-baselayout and a package the writer makes, installed into a rootfs
/// directory's database; syft and trivy must list exactly those two. The rootfs also
/// holds `etc/alpine-release` and `etc/os-release` (test scaffolding: in Alpine they come
/// from the alpine-release package), without which trivy detects no OS and lists no OS
/// packages.
#[test]
fn written_database_matches_syft_and_trivy() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    let key = test_key("plinth-test-616ae350.rsa.pub");
    let spec = PackageSpec {
        info: plinth_apk::index::PackageInfo {
            name: "hello-plinth".into(),
            version: "1.0.2-r3".into(),
            arch: "aarch64".into(),
            description: "a test package".into(),
            url: "https://example.invalid/".into(),
            license: "MIT".into(),
            origin: "hello-plinth".into(),
            ..Default::default()
        },
        files: vec![
            FileSpec::dir("usr", 0o755),
            FileSpec::dir("usr/bin", 0o755),
            FileSpec::file("usr/bin/hello", b"#!/bin/sh\necho hello\n", 0o755),
        ],
        scripts: vec![],
    };
    let built = build_package(&spec, &key).unwrap();
    let mut keys = alpine_keys();
    keys.add(&key.name, key.public_key());
    let pkg = verify_package("hello", &built.bytes, &keys, Some(&built.info)).unwrap();
    let hello = InstalledPackage {
        info: pkg.pkginfo.info.clone(),
        entries: pkg.data_entries(&built.bytes, &Limits::default()).unwrap(),
    };
    write_database(
        &root,
        &[real_installed(), hello],
        &Setup {
            world: vec!["alpine-baselayout".into(), "hello-plinth".into()],
            repositories: vec!["/repo/main".into()],
            keys: vec![(key.name.clone(), key.public_pem())],
        },
    )
    .unwrap();
    fs_err::write(root.join("etc/alpine-release"), "3.16.3\n").unwrap();
    fs_err::write(
        root.join("etc/os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.16.3\nPRETTY_NAME=\"Alpine Linux v3.16\"\n",
    )
    .unwrap();
    assert_eq!(
        fs_err::read_to_string(root.join("etc/apk/world")).unwrap(),
        "alpine-baselayout\nhello-plinth\n"
    );
    assert!(root.join("etc/apk/keys").join(&key.name).exists());

    let want: PkgSet = [
        ("alpine-baselayout".to_string(), "3.2.0-r23".to_string()),
        ("hello-plinth".to_string(), "1.0.2-r3".to_string()),
    ]
    .into();
    if let Some(got) = syft_packages(&root) {
        assert_eq!(got, want, "syft");
    }
    if let Some(got) = trivy_packages(&root, &tmp.path().join("trivy-cache")) {
        assert_eq!(got, want, "trivy");
    }
}
