//! Builders shared by the matcher, suppression and report tests.
#![allow(dead_code)]

use std::path::PathBuf;

use plinth_sbom::{Distro, Package, PackageKind, Sbom};
use plinth_vuln::model::{Advisory, Range, Severity, Status};

pub fn debian(version_id: &str, codename: &str) -> Distro {
    Distro {
        id: "debian".into(),
        version_id: (!version_id.is_empty()).then(|| version_id.to_string()),
        codename: (!codename.is_empty()).then(|| codename.to_string()),
        pretty_name: Some(format!("Debian GNU/Linux {version_id} ({codename})")),
        source: "etc/os-release".into(),
        ..Default::default()
    }
}

pub fn alpine(version_id: &str) -> Distro {
    Distro {
        id: "alpine".into(),
        version_id: Some(version_id.into()),
        pretty_name: Some("Alpine Linux v3.20".into()),
        source: "etc/os-release".into(),
        ..Default::default()
    }
}

/// A dpkg package as the cataloger reports it: `source` is `Source:` (`None` when the
/// field is absent), `source_version` the version in its parentheses.
pub fn deb(
    name: &str,
    version: &str,
    source: Option<&str>,
    source_version: Option<&str>,
) -> Package {
    deb_at(name, version, source, source_version, "var/lib/dpkg/status")
}

pub fn deb_at(
    name: &str,
    version: &str,
    source: Option<&str>,
    source_version: Option<&str>,
    location: &str,
) -> Package {
    let upstream = match (source, source_version) {
        (Some(s), Some(v)) => format!("&upstream={s}%40{}", v.replace('+', "%2B")),
        (Some(s), None) => format!("&upstream={s}"),
        _ => String::new(),
    };
    Package {
        kind: Some(PackageKind::Deb),
        name: name.into(),
        version: version.into(),
        source_name: source.map(Into::into),
        source_version: source_version.map(Into::into),
        arch: Some("amd64".into()),
        locations: vec![location.into()],
        purl: format!(
            "pkg:deb/debian/{name}@{}?arch=amd64&distro=debian-12{upstream}",
            version.replace('+', "%2B")
        ),
        ..Default::default()
    }
}

pub fn apk(name: &str, version: &str, origin: &str) -> Package {
    Package {
        kind: Some(PackageKind::Apk),
        name: name.into(),
        version: version.into(),
        source_name: Some(origin.into()),
        arch: Some("x86_64".into()),
        locations: vec!["lib/apk/db/installed".into()],
        purl: format!("pkg:apk/alpine/{name}@{version}?arch=x86_64&distro=alpine-3.20.3"),
        ..Default::default()
    }
}

pub fn lang(kind: PackageKind, name: &str, version: &str, location: &str) -> Package {
    let purl = match kind {
        PackageKind::Go => {
            let v = version.trim_start_matches("go");
            match name.rsplit_once('/') {
                Some((ns, n)) => format!("pkg:golang/{ns}/{n}@{v}"),
                None => format!("pkg:golang/{name}@{v}"),
            }
        }
        _ => format!("pkg:{}/{name}@{version}", kind.purl_type()),
    };
    Package {
        kind: Some(kind),
        name: name.into(),
        version: version.into(),
        locations: vec![location.into()],
        purl,
        ..Default::default()
    }
}

pub fn sbom(distro: Option<Distro>, packages: Vec<Package>) -> Sbom {
    Sbom {
        name: "example.test/app:1".into(),
        digest: Some(
            "sha256:6e1a7b3c9d0f2e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122".into(),
        ),
        source_kind: "oci-layout".into(),
        distro,
        packages,
        ..Default::default()
    }
}

/// CVE-2025-8058 (glibc regcomp): `[bookworm] - glibc 2.36-9+deb12u13`.
pub fn glibc_8058() -> Advisory {
    let mut a = tracker(
        "CVE-2025-8058",
        "12",
        "glibc",
        Status::Fixed,
        Some("2.36-9+deb12u13"),
        Some(Severity::Medium),
    );
    a.summary = Some("The regcomp function in the GNU C library version from 2.4 to 2.41 is subject to a double free if some previous allocation fails.".into());
    a
}

/// GO-2023-1840 (CVE-2023-29403): Go's runtime with setuid binaries, fixed in 1.19.10
/// and 1.20.5.
pub fn go_1840() -> Advisory {
    let mut a = osv(
        "GO-2023-1840",
        "go",
        "stdlib",
        vec![range("0", "1.19.10"), range("1.20.0-0", "1.20.5")],
    );
    a.aliases = vec!["CVE-2023-29403".into()];
    a.summary = Some("Unsafe behavior in setuid/setgid binaries in runtime".into());
    a
}

/// CVE-2025-53603 (sope) as the tracker has it for Debian `release` 11, 12 or 13.
pub fn sope_53603(release: &str) -> Advisory {
    let fixed = match release {
        "11" => "5.0.1-2+deb11u1",
        "12" => "5.8.0-1+deb12u1",
        "13" => "5.12.1-2",
        _ => panic!("no sope CVE-2025-53603 record for Debian {release}"),
    };
    tracker(
        "CVE-2025-53603",
        release,
        "sope",
        Status::Fixed,
        Some(fixed),
        None,
    )
}

/// libc6 and libc-bin 2.36-9+deb12u9 (source glibc), as a bookworm image holds them.
pub fn bookworm_glibc() -> Vec<Package> {
    vec![
        deb("libc6", "2.36-9+deb12u9", Some("glibc"), None),
        deb("libc-bin", "2.36-9+deb12u9", Some("glibc"), None),
    ]
}

/// A Debian tracker record, as the importer stores one release of it.
pub fn tracker(
    id: &str,
    release: &str,
    source: &str,
    status: Status,
    fixed: Option<&str>,
    severity: Option<Severity>,
) -> Advisory {
    Advisory {
        id: id.into(),
        aliases: vec![],
        source: "debian-tracker".into(),
        ecosystem: format!("debian:{release}"),
        package: source.into(),
        status,
        ranges: fixed
            .map(|f| {
                vec![Range {
                    fixed: Some(f.into()),
                    ..Default::default()
                }]
            })
            .unwrap_or_default(),
        versions: vec![],
        severity,
        severity_source: severity.map(|_| "debian urgency".into()),
        cvss: None,
        summary: None,
        symbols: vec![],
        modified: None,
    }
}

/// An OSV record for one package.
pub fn osv(id: &str, ecosystem: &str, package: &str, ranges: Vec<Range>) -> Advisory {
    Advisory {
        id: id.into(),
        aliases: vec![],
        source: "osv".into(),
        ecosystem: ecosystem.into(),
        package: package.into(),
        status: if ranges.iter().any(|r| r.fixed.is_some()) {
            Status::Fixed
        } else {
            Status::Open
        },
        ranges,
        versions: vec![],
        severity: None,
        severity_source: None,
        cvss: None,
        summary: None,
        symbols: vec![],
        modified: None,
    }
}

pub fn range(introduced: &str, fixed: &str) -> Range {
    Range {
        introduced: (!introduced.is_empty()).then(|| introduced.to_string()),
        fixed: (!fixed.is_empty()).then(|| fixed.to_string()),
        last_affected: None,
    }
}

/// An Alpine secdb `secfixes` entry: fixed in `fixed` (`0`: never affected).
pub fn secdb(id: &str, release: &str, origin: &str, fixed: &str) -> Advisory {
    Advisory {
        id: id.into(),
        aliases: vec![],
        source: "alpine-secdb".into(),
        ecosystem: format!("alpine:{release}"),
        package: origin.into(),
        status: if fixed == "0" {
            Status::NotAffected
        } else {
            Status::Fixed
        },
        ranges: if fixed == "0" {
            vec![]
        } else {
            vec![range("", fixed)]
        },
        versions: vec![],
        severity: None,
        severity_source: None,
        cvss: None,
        summary: None,
        symbols: vec![],
        modified: None,
    }
}

/// The real public data the tests use: `tests/data/` at the repository root (its
/// README gives the source and licence of every file).
pub fn test_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sbom")
        .join(name);
    fs_err::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
