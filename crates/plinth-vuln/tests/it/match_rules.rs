//! The matcher's rules and the false-positive traps of
//! `shared/reference/vulnerability-matching.md`, each on realistic records: values
//! copied from the Debian tracker (`tests/data/vuln/debian/`), the Alpine secdb subset
//! and the Go and RustSec OSV dumps.

use crate::match_support::*;
use plinth_sbom::PackageKind;
use plinth_vuln::matcher::{MatchError, MatchOptions, MemoryStore, ReleaseStatus, scan};
use plinth_vuln::model::{Advisory, Range, Severity, Status};

fn default() -> MatchOptions {
    MatchOptions::default()
}

/// The tracker's releases as the database holds them: 11, 12 and 13.
fn debian_store(records: Vec<Advisory>) -> MemoryStore {
    let mut store: MemoryStore = records.into_iter().collect();
    // Other releases are present (as in the real feed), so a missing one is noticed.
    store.insert(sope_53603("11"));
    store.insert(sope_53603("13"));
    store
}

#[test]
fn debian_fixed_one_finding_per_source_listing_every_binary() {
    let store = debian_store(vec![glibc_8058()]);
    let image = sbom(Some(debian("12", "bookworm")), bookworm_glibc());
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.release_status, ReleaseStatus::Supported);
    assert_eq!(r.ecosystem.as_deref(), Some("debian:12"));
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.id, "CVE-2025-8058");
    assert_eq!(f.source_package, "glibc");
    assert_eq!(f.installed_version, "2.36-9+deb12u9");
    assert_eq!(f.fixed_version.as_deref(), Some("2.36-9+deb12u13"));
    assert_eq!(f.status, Status::Fixed);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.severity_source, "debian urgency");
    let names: Vec<&str> = f.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["libc-bin", "libc6"]);
    assert_eq!(
        f.data_source,
        "https://security-tracker.debian.org/tracker/CVE-2025-8058"
    );
    assert_eq!(r.counts.medium, 1);
    assert_eq!(r.counts.total, 1);

    // At or above the fixed version: nothing.
    for v in ["2.36-9+deb12u13", "2.36-9+deb12u14"] {
        let image = sbom(
            Some(debian("12", "bookworm")),
            vec![deb("libc6", v, Some("glibc"), None)],
        );
        assert!(
            scan(&image, &store, &default())
                .unwrap()
                .findings
                .is_empty(),
            "{v}"
        );
    }
}

#[test]
fn debian_compares_the_source_version_not_the_binary_one() {
    // util-linux CVE-2024-28085 (wall): fixed in bookworm by 2.38.1-5+deb12u1. Bookworm's
    // first bsdutils was 1:2.38.1-5+b1, built from util-linux 2.38.1-5: the binary-only
    // epoch makes the binary version sort above the fix, yet it is affected.
    let store = debian_store(vec![tracker(
        "CVE-2024-28085",
        "12",
        "util-linux",
        Status::Fixed,
        Some("2.38.1-5+deb12u1"),
        Some(Severity::Low),
    )]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb(
                "bsdutils",
                "1:2.38.1-5+b1",
                Some("util-linux"),
                Some("2.38.1-5"),
            ),
            deb("util-linux", "2.38.1-5+b1", None, Some("2.38.1-5")),
            deb(
                "libmount1",
                "2.38.1-5+b1",
                Some("util-linux"),
                Some("2.38.1-5"),
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.installed_version, "2.38.1-5");
    assert_eq!(f.packages.len(), 3);
    assert_eq!(
        f.package_label(),
        "util-linux (bsdutils, libmount1, util-linux)"
    );

    // This machine's bsdutils: 1:2.38.1-5+deb12u3 from util-linux 2.38.1-5+deb12u3.
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![deb(
            "bsdutils",
            "1:2.38.1-5+deb12u3",
            Some("util-linux"),
            Some("2.38.1-5+deb12u3"),
        )],
    );
    assert!(
        scan(&image, &store, &default())
            .unwrap()
            .findings
            .is_empty()
    );
}

#[test]
fn debian_statuses() {
    let mut open = tracker(
        "CVE-2023-4911",
        "12",
        "glibc",
        Status::Open,
        None,
        Some(Severity::High),
    );
    open.summary = Some(
        "buffer overflow in dynamic loader's processing of the GLIBC_TUNABLES environment variable"
            .into(),
    );
    let postponed = tracker(
        "CVE-2025-8058",
        "11",
        "glibc",
        Status::Postponed,
        None,
        Some(Severity::Low),
    );
    let wontfix = tracker(
        "CVE-2023-4527",
        "12",
        "glibc",
        Status::WontFix,
        None,
        Some(Severity::Low),
    );
    let not_affected = tracker(
        "CVE-2023-6246",
        "11",
        "glibc",
        Status::NotAffected,
        None,
        None,
    );
    let undetermined = tracker(
        "TEMP-0000000-2F1E3A",
        "12",
        "glibc",
        Status::Undetermined,
        None,
        None,
    );
    // glibc <unfixed> (unimportant): "Not treated as a security issue by upstream".
    let unimportant = tracker(
        "CVE-2019-1010022",
        "12",
        "glibc",
        Status::Open,
        None,
        Some(Severity::Negligible),
    );
    // prototypejs CVE-2007-2383: fixed_version "0" in every release: never affected.
    let never = tracker(
        "CVE-2007-2383",
        "12",
        "prototypejs",
        Status::NotAffected,
        Some("0"),
        Some(Severity::Negligible),
    );
    let store = debian_store(vec![
        open,
        postponed,
        wontfix,
        not_affected,
        undetermined,
        unimportant,
        never,
    ]);

    let pkgs = vec![
        deb("libc6", "2.36-9+deb12u9", Some("glibc"), None),
        deb("libjs-prototype", "1.7.1-3.1", Some("prototypejs"), None),
    ];
    let r = scan(
        &sbom(Some(debian("12", "bookworm")), pkgs.clone()),
        &store,
        &default(),
    )
    .unwrap();
    let got: Vec<(&str, &Status)> = r
        .findings
        .iter()
        .map(|f| (f.id.as_str(), &f.status))
        .collect();
    assert_eq!(
        got,
        [
            ("CVE-2023-4911", &Status::Open),
            ("CVE-2023-4527", &Status::WontFix)
        ],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.hidden.negligible, 1);
    assert_eq!(r.hidden.undetermined, 1);
    assert!(r.findings.iter().all(|f| f.fixed_version.is_none()));

    let all = MatchOptions {
        include_undetermined: true,
        include_negligible: true,
        include_debian_ignored: true,
    };
    let r = scan(
        &sbom(Some(debian("12", "bookworm")), pkgs.clone()),
        &store,
        &all,
    )
    .unwrap();
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "CVE-2023-4911",
            "CVE-2023-4527",
            "CVE-2019-1010022",
            "TEMP-0000000-2F1E3A"
        ]
    );
    let neg = r
        .findings
        .iter()
        .find(|f| f.id == "CVE-2019-1010022")
        .unwrap();
    assert_eq!(neg.severity, Severity::Negligible);
    let und = r
        .findings
        .iter()
        .find(|f| f.id.starts_with("TEMP-"))
        .unwrap();
    assert_eq!(
        (und.status.clone(), und.severity),
        (Status::Undetermined, Severity::Unknown)
    );

    // Bullseye: postponed is reported as such, not-affected is not.
    let r = scan(
        &sbom(
            Some(debian("11", "bullseye")),
            vec![deb("libc6", "2.31-13+deb11u11", Some("glibc"), None)],
        ),
        &store,
        &default(),
    )
    .unwrap();
    assert_eq!(r.ecosystem.as_deref(), Some("debian:11"));
    let got: Vec<(&str, &Status)> = r
        .findings
        .iter()
        .map(|f| (f.id.as_str(), &f.status))
        .collect();
    assert_eq!(got, [("CVE-2025-8058", &Status::Postponed)]);
}

/// Trap: kernel CVEs on `linux-libc-dev` (trivy#1596, grype#942).
#[test]
fn trap_linux_libc_dev_never_gets_kernel_cves() {
    // CVE-2024-1086 (nf_tables use-after-free): `[bookworm] - linux 6.1.76-1`.
    let store = debian_store(vec![
        tracker(
            "CVE-2024-1086",
            "12",
            "linux",
            Status::Fixed,
            Some("6.1.76-1"),
            Some(Severity::High),
        ),
        tracker(
            "CVE-2013-7445",
            "12",
            "linux",
            Status::Open,
            None,
            Some(Severity::Low),
        ),
    ]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![deb("linux-libc-dev", "6.1.69-1", Some("linux"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.hidden.kernel_headers, 1);

    // A kernel in the image (a VM image) is still matched, and only it is listed.
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb("linux-libc-dev", "6.1.69-1", Some("linux"), None),
            deb(
                "linux-headers-6.1.0-17-amd64",
                "6.1.69-1",
                Some("linux"),
                None,
            ),
            deb(
                "linux-image-6.1.0-17-amd64",
                "6.1.69-1",
                Some("linux"),
                None,
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.findings.len(), 2);
    for f in &r.findings {
        let names: Vec<&str> = f.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["linux-image-6.1.0-17-amd64"]);
    }
    assert_eq!(r.hidden.kernel_headers, 2);
}

/// The regression: with `linux-libc-dev` rightly skipped, the kernel's CVEs landed on
/// `linux-perf`, a user-space tool of the kernel's source. Only a kernel image or its
/// modules carry them.
#[test]
fn kernel_cves_do_not_land_on_linux_perf() {
    let store = debian_store(vec![tracker(
        "CVE-2024-1086",
        "12",
        "linux",
        Status::Fixed,
        Some("6.1.76-1"),
        Some(Severity::High),
    )]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb("linux-perf", "6.1.69-1", Some("linux"), None),
            deb("bpftool", "7.1.0+6.1.69-1", Some("linux"), Some("6.1.69-1")),
            deb("linux-libc-dev", "6.1.69-1", Some("linux"), None),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.hidden.kernel_headers, 3);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb("linux-perf", "6.1.69-1", Some("linux"), None),
            deb(
                "linux-modules-6.1.0-17-amd64",
                "6.1.69-1",
                Some("linux"),
                None,
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.findings.len(), 1);
    let names: Vec<&str> = r.findings[0]
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["linux-modules-6.1.0-17-amd64"]);
}

/// Trap: zlib CVE-2023-45853 (minizip) on `zlib1g` (grype#2412). The tracker's bookworm
/// entry: `{"status": "open", "repositories": {"bookworm": "1:1.2.13.dfsg-1"},
/// "urgency": "not yet assigned", "nodsa": "contrib/minizip not built and src:zlib not
/// producing binary packages", "nodsa_reason": "ignored"}`.
#[test]
fn trap_zlib_minizip_follows_debians_judgement() {
    let mut ignored = tracker("CVE-2023-45853", "12", "zlib", Status::WontFix, None, None);
    ignored.summary = Some("MiniZip in zlib through 1.3 has an integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_64 via a long filename, comment, or extra field.".into());
    let store = debian_store(vec![ignored.clone()]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![deb("zlib1g", "1:1.2.13.dfsg-1", Some("zlib"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.hidden.debian_ignored, 1);
    assert!(!plinth_vuln::report::exceeds(&r, Severity::Low));

    // Asked for: reported as Debian says, won't fix, and with no borrowed severity.
    let opts = MatchOptions {
        include_debian_ignored: true,
        ..Default::default()
    };
    let r = scan(&image, &store, &opts).unwrap();
    assert_eq!(r.findings.len(), 1);
    let f = &r.findings[0];
    assert_eq!(
        (f.status.clone(), f.severity),
        (Status::WontFix, Severity::Unknown)
    );
    assert_eq!(f.severity_source, "none");
    assert!(!plinth_vuln::report::exceeds(&r, Severity::Critical));

    // Had Debian rated it `unimportant`, it is negligible and hidden for that reason.
    let mut unimportant = ignored;
    unimportant.severity = Some(Severity::Negligible);
    unimportant.severity_source = Some("debian urgency".into());
    let store = debian_store(vec![unimportant]);
    let r = scan(&image, &store, &default()).unwrap();
    assert!(r.findings.is_empty());
    assert_eq!((r.hidden.negligible, r.hidden.debian_ignored), (1, 0));

    // The fixed release is not affected at all: trixie has 1:1.3.dfsg-3.1.
    let store = debian_store(vec![tracker(
        "CVE-2023-45853",
        "13",
        "zlib",
        Status::Fixed,
        Some("1:1.3.dfsg-2"),
        None,
    )]);
    let image = sbom(
        Some(debian("13", "trixie")),
        vec![deb("zlib1g", "1:1.3.dfsg-3.1", Some("zlib"), None)],
    );
    assert!(
        scan(&image, &store, &default())
            .unwrap()
            .findings
            .is_empty()
    );
}

/// Trap: distroless `status.d/` entries without a `Status:` line (trivy#96, syft#1900).
/// The cataloger reads them; the matcher must treat them like any dpkg package.
#[test]
fn trap_status_d_packages_are_matched() {
    let store = debian_store(vec![glibc_8058()]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb_at(
                "libc6",
                "2.36-9+deb12u9",
                Some("glibc"),
                None,
                "var/lib/dpkg/status.d/libc6",
            ),
            deb_at(
                "base-files",
                "12.4+deb12u9",
                None,
                None,
                "var/lib/dpkg/status.d/base-files",
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(
        r.findings[0].packages[0].locations,
        ["var/lib/dpkg/status.d/libc6"]
    );
}

/// The same with the real SBOM syft wrote for a distroless-layout rootfs.
#[test]
fn trap_status_d_from_a_real_syft_sbom() {
    let image = plinth_vuln::sbomin::read_sbom(&fixture("syft-distroless.cdx.json")).unwrap();
    assert!(
        image
            .packages
            .iter()
            .all(|p| p.locations[0].starts_with("var/lib/dpkg/status.d/"))
    );
    // libc6 2.36-9+deb12u14 in the image; a record fixed just above it (constructed:
    // 2.36-9+deb12u15) must find it.
    let store = debian_store(vec![tracker(
        "CVE-2025-4802",
        "12",
        "glibc",
        Status::Fixed,
        Some("2.36-9+deb12u15"),
        Some(Severity::Medium),
    )]);
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.findings.len(), 1, "{:#?}", r);
    assert_eq!(r.findings[0].packages[0].name, "libc6");
}

/// Trap: end-of-life releases (trivy#3194): nothing invented from other releases' data.
#[test]
fn trap_end_of_life_release_is_said_not_guessed() {
    // sope CVE-2025-53603 is in 11, 12 and 13; buster (10) is gone from the tracker.
    let store = debian_store(vec![sope_53603("12")]);
    let image = sbom(
        Some(debian("10", "buster")),
        vec![deb("libsope1", "4.3.0-1", Some("sope"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.release_status, ReleaseStatus::EndOfLife);
    assert!(r.findings.is_empty());
    let note = r.release_note.as_deref().unwrap();
    assert!(
        note.contains("end-of-life") && note.contains("11, 12, 13"),
        "{note}"
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("1 OS packages were not matched")),
        "{:?}",
        r.warnings
    );

    // A release newer than any held: unsupported, not end-of-life.
    let image = sbom(
        Some(debian("", "forky")),
        vec![deb("libsope1", "5.12.1-2", Some("sope"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.ecosystem.as_deref(), Some("debian:14"));
    assert_eq!(r.release_status, ReleaseStatus::Unsupported);
    assert!(r.findings.is_empty());
}

#[test]
fn release_unknown_is_an_error_never_zero_findings() {
    let store = debian_store(vec![glibc_8058()]);
    let pkgs = vec![deb("libc6", "2.36-9+deb12u9", Some("glibc"), None)];
    let err = scan(&sbom(None, pkgs.clone()), &store, &default()).unwrap_err();
    assert!(
        matches!(err, MatchError::UnknownRelease { os_packages: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("refusing to report zero"), "{err}");
    let err = scan(&sbom(Some(debian("", "")), pkgs), &store, &default()).unwrap_err();
    assert!(matches!(err, MatchError::UnknownRelease { .. }), "{err}");

    // No OS and no OS packages: a static Go binary is fine.
    let mut go = MemoryStore::new();
    go.insert(osv(
        "GO-2023-1840",
        "go",
        "stdlib",
        vec![range("0", "1.19.10"), range("1.20.0-0", "1.20.5")],
    ));
    let image = sbom(
        None,
        vec![lang(PackageKind::Go, "stdlib", "go1.19.8", "app")],
    );
    let r = scan(&image, &go, &default()).unwrap();
    assert_eq!(r.release_status, ReleaseStatus::NoOs);
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn codename_only_debian_is_mapped() {
    let store = debian_store(vec![glibc_8058()]);
    let image = sbom(
        Some(debian("", "bookworm")),
        vec![deb("libc6", "2.36-9+deb12u9", Some("glibc"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.ecosystem.as_deref(), Some("debian:12"));
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn distribution_without_any_feed_is_unsupported_and_says_so() {
    let store = debian_store(vec![glibc_8058()]);
    let mut ubuntu = debian("22.04", "jammy");
    ubuntu.id = "ubuntu".into();
    let image = sbom(
        Some(ubuntu),
        vec![deb("libc6", "2.35-0ubuntu3.8", Some("glibc"), None)],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.release_status, ReleaseStatus::Unsupported);
    assert!(
        r.release_note
            .as_deref()
            .unwrap()
            .contains("no advisories for ubuntu")
    );
    assert!(r.findings.is_empty());
    assert!(!r.warnings.is_empty());
}

/// Alpine 3.20.3's real package set against real secdb values.
#[test]
fn alpine_by_origin_with_apk_versions() {
    let mut store: MemoryStore = [
        secdb("CVE-2023-42364", "3.20", "busybox", "1.36.1-r29"),
        secdb("CVE-2024-58251", "3.20", "busybox", "1.36.1-r31"),
        secdb("CVE-2020-28928", "3.20", "musl", "1.2.2_pre2-r0"),
        secdb("CVE-2025-26519", "3.20", "musl", "1.2.5-r1"),
        secdb("CVE-2023-45853", "3.20", "zlib", "0"),
        secdb("CVE-2022-37434", "3.20", "zlib", "1.2.12-r2"),
        secdb("CVE-2024-9143", "3.20", "openssl", "3.3.2-r1"),
    ]
    .into_iter()
    .collect();
    store.insert(secdb("CVE-2021-36159", "3.19", "apk-tools", "2.12.6-r0"));
    let image = sbom(
        Some(alpine("3.20.3")),
        vec![
            apk("busybox", "1.36.1-r29", "busybox"),
            apk("busybox-binsh", "1.36.1-r29", "busybox"),
            apk("ssl_client", "1.36.1-r29", "busybox"),
            apk("musl", "1.2.5-r0", "musl"),
            apk("musl-utils", "1.2.5-r0", "musl"),
            apk("libcrypto3", "3.3.2-r0", "openssl"),
            apk("libssl3", "3.3.2-r0", "openssl"),
            apk("zlib", "1.3.1-r1", "zlib"),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert_eq!(r.ecosystem.as_deref(), Some("alpine:3.20"));
    let got: Vec<(&str, &str, Option<&str>, usize)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.source_package.as_str(),
                f.fixed_version.as_deref(),
                f.packages.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // Numeric order: 9143 before 58251.
            ("CVE-2024-9143", "openssl", Some("3.3.2-r1"), 2),
            ("CVE-2024-58251", "busybox", Some("1.36.1-r31"), 3),
            ("CVE-2025-26519", "musl", Some("1.2.5-r1"), 2),
        ]
    );
    assert!(r.findings.iter().all(|f| f.severity == Severity::Unknown));
    assert_eq!(
        r.findings[0].data_source,
        "https://security.alpinelinux.org/vuln/CVE-2024-9143"
    );

    // Alpine 3.16 is older than any release held: end-of-life.
    let r = scan(
        &sbom(
            Some(alpine("3.16.9")),
            vec![apk("zlib", "1.2.12-r3", "zlib")],
        ),
        &store,
        &default(),
    )
    .unwrap();
    assert_eq!(r.release_status, ReleaseStatus::EndOfLife);
}

/// Go's standard library: OSV names it `stdlib`, versions without `go`.
#[test]
fn go_stdlib_and_modules() {
    let g1840 = go_1840();
    let mut g1878 = osv(
        "GO-2023-1878",
        "go",
        "stdlib",
        vec![range("0", "1.19.11"), range("1.20.0-0", "1.20.6")],
    );
    g1878.aliases = vec!["CVE-2023-29406".into()];
    // golang.org/x/net GO-2023-2102 (HTTP/2 rapid reset), fixed in 0.17.0.
    let mut xnet = osv(
        "GO-2023-2102",
        "go",
        "golang.org/x/net",
        vec![range("0", "0.17.0")],
    );
    xnet.aliases = vec!["CVE-2023-39325".into(), "GHSA-4374-p667-p6c8".into()];
    xnet.severity = Some(Severity::High);
    xnet.severity_source = Some("CVSS_V3 (osv)".into());
    // The same vulnerability once more under its GHSA ID: reported once.
    let mut ghsa = osv(
        "GHSA-4374-p667-p6c8",
        "go",
        "golang.org/x/net",
        vec![range("0", "0.17.0")],
    );
    ghsa.aliases = vec!["CVE-2023-39325".into(), "GO-2023-2102".into()];
    let store: MemoryStore = [g1840, g1878, xnet, ghsa].into_iter().collect();

    let image = sbom(
        None,
        vec![
            lang(PackageKind::Go, "stdlib", "go1.19.8", "usr/local/bin/umoci"),
            lang(PackageKind::Go, "stdlib", "go1.20.6", "usr/local/bin/other"),
            lang(
                PackageKind::Go,
                "golang.org/x/net",
                "v0.10.0",
                "usr/local/bin/umoci",
            ),
            lang(
                PackageKind::Go,
                "github.com/opencontainers/umoci",
                "(devel)",
                "usr/local/bin/umoci",
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    let got: Vec<(&str, &str, &str, Option<&str>)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.source_package.as_str(),
                f.installed_version.as_str(),
                f.fixed_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "GO-2023-2102",
                "golang.org/x/net",
                "v0.10.0",
                Some("0.17.0")
            ),
            ("GO-2023-1840", "stdlib", "go1.19.8", Some("1.19.10")),
            ("GO-2023-1878", "stdlib", "go1.19.8", Some("1.19.11")),
        ],
        "{:#?}",
        r.findings
    );
    // Reported once, by the record with a severity, the other's ID as an alias.
    assert_eq!(
        r.findings[0].aliases,
        ["CVE-2023-39325", "GHSA-4374-p667-p6c8"]
    );
    assert_eq!(
        (
            r.findings[0].severity,
            r.findings[0].severity_source.as_str()
        ),
        (Severity::High, "CVSS_V3 (osv)")
    );
    assert_eq!(
        r.findings[0].data_source,
        "https://pkg.go.dev/vuln/GO-2023-2102"
    );
    assert_eq!(
        r.findings[1].data_source,
        "https://pkg.go.dev/vuln/GO-2023-1840"
    );
    assert_eq!(r.findings[1].ecosystem, "go");
    assert!(
        r.warnings.iter().any(|w| w.contains("(devel)")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn crates_pypi_npm_ranges_versions_and_last_affected() {
    // RUSTSEC-2021-0003 (smallvec insert_many), CVSS 9.8.
    let mut smallvec = osv(
        "RUSTSEC-2021-0003",
        "crates.io",
        "smallvec",
        vec![range("0.6.3", "0.6.14"), range("1.0.0", "1.6.1")],
    );
    smallvec.aliases = vec!["CVE-2021-25900".into(), "GHSA-43w2-9j62-hq99".into()];
    smallvec.cvss = Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into());
    // idna CVE-2024-3651 (PYSEC-2024-60): fixed in 3.7; its version list, trimmed.
    let mut idna = osv("PYSEC-2024-60", "pypi", "idna", vec![]);
    idna.versions = vec!["3.4".into(), "3.5".into(), "3.6".into()];
    idna.aliases = vec!["CVE-2024-3651".into(), "GHSA-jjg7-2v4v-x38h".into()];
    // npm ip GHSA-2p57-rm9w-gvfp (CVE-2024-29415): last_affected 2.0.1.
    let ip = osv(
        "GHSA-2p57-rm9w-gvfp",
        "npm",
        "ip",
        vec![Range {
            introduced: Some("0".into()),
            fixed: None,
            last_affected: Some("2.0.1".into()),
        }],
    );
    let store: MemoryStore = [smallvec, idna, ip].into_iter().collect();
    let image = sbom(
        None,
        vec![
            lang(PackageKind::Cargo, "smallvec", "1.6.0", "usr/local/bin/app"),
            lang(
                PackageKind::Cargo,
                "smallvec",
                "1.6.1",
                "usr/local/bin/other",
            ),
            lang(
                PackageKind::Python,
                "IDNA",
                "3.6",
                "usr/lib/python3/site-packages/idna-3.6.dist-info/METADATA",
            ),
            lang(
                PackageKind::Python,
                "idna",
                "3.7",
                "opt/venv/idna-3.7.dist-info/METADATA",
            ),
            lang(
                PackageKind::Npm,
                "ip",
                "2.0.1",
                "app/node_modules/ip/package.json",
            ),
            lang(
                PackageKind::Npm,
                "ip",
                "2.0.2",
                "app/node_modules/x/node_modules/ip/package.json",
            ),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    let got: Vec<(&str, &str, &Status, Severity)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.installed_version.as_str(),
                &f.status,
                f.severity,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "RUSTSEC-2021-0003",
                "1.6.0",
                &Status::Fixed,
                Severity::Critical
            ),
            // Ids with a year and number first, by year and number; others after.
            ("PYSEC-2024-60", "3.6", &Status::Open, Severity::Unknown),
            (
                "GHSA-2p57-rm9w-gvfp",
                "2.0.1",
                &Status::Open,
                Severity::Unknown
            ),
        ],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity_source, "CVSS 9.8 (osv)");
    assert_eq!(
        r.findings[0].data_source,
        "https://rustsec.org/advisories/RUSTSEC-2021-0003.html"
    );
}

#[test]
fn language_ecosystem_missing_from_the_database_is_a_warning() {
    let store: MemoryStore = [glibc_8058()].into_iter().collect();
    let image = sbom(
        None,
        vec![lang(
            PackageKind::Npm,
            "ip",
            "2.0.1",
            "node_modules/ip/package.json",
        )],
    );
    let r = scan(&image, &store, &default()).unwrap();
    assert!(r.findings.is_empty());
    assert!(
        r.warnings.iter().any(|w| w.contains("no npm advisories")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn findings_sort_by_severity_then_id_then_package() {
    let store = debian_store(vec![
        tracker(
            "CVE-2024-0002",
            "12",
            "glibc",
            Status::Open,
            None,
            Some(Severity::Low),
        ),
        tracker(
            "CVE-2024-0001",
            "12",
            "openssl",
            Status::Open,
            None,
            Some(Severity::Critical),
        ),
        tracker(
            "CVE-2024-0003",
            "12",
            "glibc",
            Status::Open,
            None,
            Some(Severity::Critical),
        ),
        tracker(
            "CVE-2024-0003",
            "12",
            "openssl",
            Status::Open,
            None,
            Some(Severity::Critical),
        ),
        tracker("CVE-2024-0009", "12", "openssl", Status::Open, None, None),
    ]);
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![
            deb("libssl3", "3.0.15-1~deb12u1", Some("openssl"), None),
            deb("libc6", "2.36-9+deb12u9", Some("glibc"), None),
        ],
    );
    let r = scan(&image, &store, &default()).unwrap();
    let got: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.source_package.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("CVE-2024-0001", "openssl"),
            ("CVE-2024-0003", "glibc"),
            ("CVE-2024-0003", "openssl"),
            ("CVE-2024-0002", "glibc"),
            ("CVE-2024-0009", "openssl"),
        ]
    );
    assert_eq!(
        (
            r.counts.critical,
            r.counts.low,
            r.counts.unknown,
            r.counts.total
        ),
        (3, 1, 1, 5)
    );
}

#[test]
fn lookup_failures_are_errors() {
    struct Broken;
    impl plinth_vuln::matcher::AdvisoryLookup for Broken {
        fn advisories(&self, _: &str, _: &str) -> Result<Vec<Advisory>, String> {
            Err("database is locked".into())
        }
        fn ecosystems(&self) -> Vec<String> {
            vec!["debian:12".into()]
        }
    }
    let image = sbom(
        Some(debian("12", "bookworm")),
        vec![deb("libc6", "2.36-9+deb12u9", Some("glibc"), None)],
    );
    let err = scan(&image, &Broken, &default()).unwrap_err();
    assert!(err.to_string().contains("database is locked"), "{err}");
}
