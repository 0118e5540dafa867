//! Reading real syft 1.18.1 and trivy 0.59.1 SBOMs (tests/fixtures/sbom/, see its
//! README) back into the package model: every reading must give the packages, versions
//! and source packages that the dpkg and apk databases they were made from hold.

use std::collections::BTreeSet;

use crate::match_support::fixture;
use plinth_sbom::{PackageKind, Sbom};
use plinth_vuln::sbomin::{package_set, read_sbom};

type Row = (String, String, String, String, String);

/// `expected-*.tsv`: kind, name, version, source name, source version.
fn expected(name: &str) -> BTreeSet<Row> {
    String::from_utf8(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].into(),
                f[1].into(),
                f[2].into(),
                f[3].into(),
                f[4].into(),
            )
        })
        .collect()
}

fn read(name: &str) -> Sbom {
    read_sbom(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn debian_sboms_of_syft_and_trivy_give_the_dpkg_database() {
    let want = expected("expected-debian.tsv");
    assert_eq!(want.len(), 12);
    for name in [
        "syft-debian.cdx.json",
        "syft-debian.spdx.json",
        "trivy-debian.cdx.json",
        "trivy-debian.spdx.json",
    ] {
        let sbom = read(name);
        assert_eq!(package_set(&sbom), want, "{name}");
        let d = sbom
            .distro
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no distro"));
        assert_eq!(d.id, "debian", "{name}");
        assert_eq!(
            plinth_vuln::matcher::release_key(d).as_deref(),
            Some("debian:12"),
            "{name}: {d:?}"
        );
        assert!(
            sbom.packages.iter().all(|p| p.kind() == PackageKind::Deb),
            "{name}"
        );
        let zlib = sbom.packages.iter().find(|p| p.name == "zlib1g").unwrap();
        assert_eq!(zlib.version, "1:1.2.13.dfsg-1", "{name}");
        assert_eq!(zlib.arch.as_deref(), Some("amd64"), "{name}");
        assert!(zlib.purl.starts_with("pkg:deb/debian/zlib1g@"), "{name}");
        if name.starts_with("syft") {
            assert_eq!(zlib.locations, ["var/lib/dpkg/status"], "{name}");
        }
    }
    // syft writes the OS with its codename; trivy with the point release.
    let syft = read("syft-debian.cdx.json").distro.unwrap();
    assert_eq!(
        (syft.version_id.as_deref(), syft.codename.as_deref()),
        (Some("12"), Some("bookworm"))
    );
    let trivy = read("trivy-debian.cdx.json").distro.unwrap();
    assert_eq!(trivy.version_id.as_deref(), Some("12.11"));
    // syft's SPDX names no OS: the PURL's distro= qualifier does.
    let spdx = read("syft-debian.spdx.json").distro.unwrap();
    assert_eq!(spdx.version_id.as_deref(), Some("12"));
    assert!(spdx.source.contains("distro=debian-12"), "{}", spdx.source);
}

#[test]
fn alpine_sboms_of_syft_and_trivy_give_the_apk_database() {
    let want = expected("expected-alpine.tsv");
    assert_eq!(want.len(), 10);
    for name in [
        "syft-alpine.cdx.json",
        "syft-alpine.spdx.json",
        "trivy-alpine.cdx.json",
        "trivy-alpine.spdx.json",
    ] {
        let sbom = read(name);
        assert_eq!(package_set(&sbom), want, "{name}");
        let d = sbom.distro.as_ref().unwrap();
        assert_eq!(d.id, "alpine", "{name}");
        assert_eq!(
            plinth_vuln::matcher::release_key(d).as_deref(),
            Some("alpine:3.20"),
            "{name}"
        );
    }
    // trivy's apk PURLs carry a bare `distro=3.20.3`: the id comes from the namespace.
    let trivy = read("trivy-alpine.spdx.json");
    assert!(trivy.packages[0].purl.contains("distro=3.20.3"));
}

#[test]
fn language_packages_from_syft_and_trivy() {
    let norm = |s: &Sbom| -> BTreeSet<(String, String, String)> {
        s.packages
            .iter()
            .map(|p| {
                let v = if p.kind() == PackageKind::Go {
                    plinth_vuln::matcher::normalize_go_version(&p.version)
                        .unwrap_or_else(|| p.version.clone())
                } else {
                    p.version.clone()
                };
                (p.kind().as_str().to_string(), p.name.clone(), v)
            })
            .collect()
    };
    let row = |k: &str, n: &str, v: &str| (k.to_string(), n.to_string(), v.to_string());
    let common = [
        row("cargo", "h5rs", "0.1.0"),
        row("cargo", "hex", "0.4.3"),
        row("cargo", "itoa", "1.0.15"),
        row("go", "stdlib", "1.19.8"),
        row("python", "idna", "3.20"),
    ];
    for name in ["syft-lang.cdx.json", "syft-lang.spdx.json"] {
        let sbom = read(name);
        let mut want: BTreeSet<_> = common.iter().cloned().collect();
        // syft lists the Debian-built main module as `(devel)`; its npm cataloger does
        // not read package.json in directory scans.
        want.insert(row("go", "github.com/opencontainers/umoci", "(devel)"));
        assert_eq!(norm(&sbom), want, "{name}");
        assert!(sbom.distro.is_none(), "{name}");
        let go = sbom.packages.iter().find(|p| p.name == "stdlib").unwrap();
        assert_eq!(go.version, "go1.19.8", "{name}");
        assert_eq!(go.locations, ["usr/local/bin/umoci"], "{name}");
    }
    for name in ["trivy-lang.cdx.json", "trivy-lang.spdx.json"] {
        let sbom = read(name);
        let mut want: BTreeSet<_> = common.iter().cloned().collect();
        want.insert(row("npm", "corepack", "0.34.6"));
        assert_eq!(norm(&sbom), want, "{name}");
        let go = sbom.packages.iter().find(|p| p.name == "stdlib").unwrap();
        assert_eq!(go.version, "v1.19.8", "{name}");
    }
    let trivy = read("trivy-lang.cdx.json");
    let idna = trivy.packages.iter().find(|p| p.name == "idna").unwrap();
    assert_eq!(
        idna.locations,
        ["usr/local/lib/python3.11/site-packages/idna-3.20.dist-info/METADATA"]
    );
}

#[test]
fn status_d_sboms_give_the_status_d_packages() {
    let want: BTreeSet<Row> = expected("expected-debian.tsv")
        .into_iter()
        .filter(|r| ["base-files", "libc6", "zlib1g", "libssl3", "tzdata"].contains(&r.1.as_str()))
        .collect();
    for name in ["syft-distroless.cdx.json", "trivy-distroless.cdx.json"] {
        let sbom = read(name);
        assert_eq!(package_set(&sbom), want, "{name}");
    }
}

/// The properties Plinth's own CycloneDX writer uses for the source package.
#[test]
fn plinth_source_properties_win() {
    let doc = br#"{
      "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
      "metadata": {"component": {"type": "container", "name": "debian:bookworm-slim",
                                 "version": "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}},
      "components": [
        {"type": "operating-system", "name": "debian", "version": "12"},
        {"bom-ref": "a", "type": "library", "name": "bsdutils", "version": "1:2.38.1-5+deb12u3",
         "purl": "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12",
         "properties": [
           {"name": "plinth:package:source-name", "value": "util-linux"},
           {"name": "plinth:package:source-version", "value": "2.38.1-5+deb12u3"},
           {"name": "plinth:package:location", "value": "var/lib/dpkg/status"}]}
      ]}"#;
    let sbom = read_sbom(doc).unwrap();
    assert_eq!(sbom.name, "debian:bookworm-slim");
    assert!(sbom.digest.as_deref().unwrap().starts_with("sha256:0011"));
    let p = &sbom.packages[0];
    assert_eq!(p.source_name.as_deref(), Some("util-linux"));
    assert_eq!(p.source_version.as_deref(), Some("2.38.1-5+deb12u3"));
    assert_eq!(p.locations, ["var/lib/dpkg/status"]);
    assert_eq!(sbom.source_kind, "sbom-cyclonedx");
}

/// The real SBOMs scan: syft's Alpine SBOM against Alpine's real secdb records.
#[test]
fn a_real_alpine_sbom_scans_against_the_real_secdb() {
    let data = crate::match_support::test_data();
    let secdb: serde_json::Value = serde_json::from_slice(
        &fs_err::read(data.join("vuln/alpine/v3.20-main.subset.json")).unwrap(),
    )
    .unwrap();
    let mut store = plinth_vuln::matcher::MemoryStore::new();
    for p in secdb["packages"].as_array().unwrap() {
        let origin = p["pkg"]["name"].as_str().unwrap();
        for (fixed, ids) in p["pkg"]["secfixes"].as_object().unwrap() {
            for id in ids.as_array().unwrap() {
                // secdb lines may hold "CVE-A CVE-B" in one string.
                for id in id.as_str().unwrap().split_whitespace() {
                    store.insert(crate::match_support::secdb(id, "3.20", origin, fixed));
                }
            }
        }
    }
    for name in ["syft-alpine.cdx.json", "trivy-alpine.spdx.json"] {
        let sbom = read(name);
        let r = plinth_vuln::matcher::scan(&sbom, &store, &Default::default()).unwrap();
        let got: BTreeSet<(&str, &str)> = r
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.source_package.as_str()))
            .collect();
        // busybox 1.36.1-r29: fixed in -r31; musl 1.2.5-r0: fixed in -r1, -r2, -r3.
        for want in [
            ("CVE-2024-58251", "busybox"),
            ("CVE-2025-46394", "busybox"),
            ("CVE-2025-26519", "musl"),
            ("CVE-2024-9143", "openssl"),
        ] {
            assert!(got.contains(&want), "{name}: {want:?} missing from {got:?}");
        }
        // Fixed at or before what is installed, or never affected: absent.
        for absent in [
            "CVE-2023-42364",
            "CVE-2024-6119",
            "CVE-2023-45853",
            "CVE-2022-37434",
        ] {
            assert!(!got.iter().any(|(id, _)| *id == absent), "{name}: {absent}");
        }
        let busybox = r
            .findings
            .iter()
            .find(|f| f.id == "CVE-2024-58251")
            .unwrap();
        let bins: Vec<&str> = busybox.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(bins, ["busybox", "busybox-binsh", "ssl_client"], "{name}");
    }
}

/// Plinth's own writers, read back: SPDX 2.3, CycloneDX 1.6 and Plinth JSON.
#[test]
fn plinth_sboms_round_trip() {
    use plinth_sbom::format::{Format, WriteOptions, write};
    use plinth_sbom::purl::purl;
    use plinth_sbom::{Distro, Package};

    let distro = Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        codename: Some("bookworm".into()),
        pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        source: "etc/os-release".into(),
        ..Default::default()
    };
    let deb = |name: &str, version: &str, src: Option<(&str, Option<&str>)>| {
        let upstream = match src {
            Some((s, Some(v))) => format!("{s}@{v}"),
            Some((s, None)) => s.to_string(),
            None => String::new(),
        };
        Package {
            kind: Some(PackageKind::Deb),
            name: name.into(),
            version: version.into(),
            source_name: src.map(|(s, _)| s.to_string()),
            source_version: src.and_then(|(_, v)| v.map(str::to_string)),
            arch: Some("amd64".into()),
            locations: vec!["var/lib/dpkg/status".into()],
            purl: purl(
                "deb",
                Some("debian"),
                name,
                version,
                &[
                    ("arch", "amd64"),
                    ("upstream", &upstream),
                    ("distro", "debian-12"),
                ],
            ),
            ..Default::default()
        }
    };
    let go = |module: &str, version: &str, purl_version: &str| {
        let (ns, name) = module
            .rsplit_once('/')
            .map_or((None, module), |(n, m)| (Some(n), m));
        Package {
            kind: Some(PackageKind::Go),
            name: module.into(),
            version: version.into(),
            locations: vec!["usr/local/bin/app".into()],
            purl: purl("golang", ns, name, purl_version, &[]),
            ..Default::default()
        }
    };
    let sbom = Sbom {
        name: "example.test/app:1".into(),
        digest: Some(
            "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
        ),
        platform: Some("linux/amd64".into()),
        source_kind: "oci-layout".into(),
        distro: Some(distro),
        packages: vec![
            deb("base-files", "12.4+deb12u11", None),
            deb(
                "bsdutils",
                "1:2.38.1-5+deb12u3",
                Some(("util-linux", Some("2.38.1-5+deb12u3"))),
            ),
            deb("libc6", "2.36-9+deb12u14", Some(("glibc", None))),
            go("stdlib", "go1.22.5", "1.22.5"),
            go("golang.org/x/net", "v0.17.0", "v0.17.0"),
        ],
        warnings: vec![],
    };
    let want = package_set(&sbom);
    for format in [Format::CycloneDxJson, Format::SpdxJson, Format::PlinthJson] {
        let bytes = write(&sbom, format, &WriteOptions::default());
        let back = read_sbom(&bytes).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(package_set(&back), want, "{format}");
        let d = back.distro.as_ref().unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("debian", Some("12")),
            "{format}"
        );
        if format != Format::SpdxJson {
            assert_eq!(d.codename.as_deref(), Some("bookworm"), "{format}");
            let libc6 = back.packages.iter().find(|p| p.name == "libc6").unwrap();
            assert_eq!(libc6.locations, ["var/lib/dpkg/status"], "{format}");
            assert_eq!(back.digest, sbom.digest, "{format}");
        }
        assert_eq!(back.name, sbom.name, "{format}");
    }
}
