//! Ignore files and OpenVEX documents, applied after matching.

use crate::match_support::*;
use plinth_vuln::ignore::IgnoreFile;
use plinth_vuln::matcher::{MatchOptions, MemoryStore, ScanResult, scan};
use plinth_vuln::model::{Severity, Status};
use plinth_vuln::vex;

/// A bookworm image with three findings: glibc (libc6, libc-bin), openssl (libssl3,
/// openssl) and curl (libcurl4).
fn result() -> ScanResult {
    let store: MemoryStore = [
        glibc_8058(),
        tracker(
            "CVE-2024-13176",
            "12",
            "openssl",
            Status::Fixed,
            Some("3.0.16-1~deb12u1"),
            Some(Severity::Low),
        ),
        tracker(
            "CVE-2024-2398",
            "12",
            "curl",
            Status::Fixed,
            Some("7.88.1-10+deb12u6"),
            Some(Severity::High),
        ),
        sope_53603("11"),
    ]
    .into_iter()
    .collect();
    let image = sbom(
        Some(debian("12", "bookworm")),
        [
            bookworm_glibc(),
            vec![
                deb("libssl3", "3.0.15-1~deb12u1", Some("openssl"), None),
                deb("openssl", "3.0.15-1~deb12u1", None, None),
                deb("libcurl4", "7.88.1-10+deb12u5", Some("curl"), None),
            ],
        ]
        .concat(),
    );
    scan(&image, &store, &MatchOptions::default()).unwrap()
}

fn ids(r: &ScanResult) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn ignore_file_suppresses_with_reason_and_expiry() {
    let file = IgnoreFile::parse(
        r#"
# Accepted risks, reviewed 2026-11.
[[ignore]]
id = "CVE-2025-8058"
package = "glibc"
reason = "regcomp is never called with untrusted patterns in this service"
expires = "2026-12-31"

[[ignore]]
id = "CVE-2024-2398"
reason = "HTTP/2 push is disabled"
expires = "2026-01-31"

[[ignore]]
id = "CVE-2024-13176"
package = "gnutls28"
reason = "wrong package: must not match openssl"
"#,
    )
    .unwrap();
    let mut r = result();
    assert_eq!(
        ids(&r),
        ["CVE-2024-2398", "CVE-2025-8058", "CVE-2024-13176"]
    );
    let moved = file.apply_on(&mut r, jiff::civil::date(2026, 11, 22));
    assert_eq!(moved, 1);
    assert_eq!(ids(&r), ["CVE-2024-2398", "CVE-2024-13176"]);
    assert_eq!(r.counts.suppressed, 1);
    assert_eq!(r.counts.total, 2);
    let s = &r.suppressed[0];
    assert_eq!(s.by, "ignore-file");
    assert_eq!(s.finding.id, "CVE-2025-8058");
    assert!(
        s.reason.contains("untrusted patterns") && s.reason.contains("until 2026-12-31"),
        "{}",
        s.reason
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("CVE-2024-2398") && w.contains("expired")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("CVE-2024-13176 in gnutls28 matched no finding")),
        "{:?}",
        r.warnings
    );

    // The last day of an entry still counts.
    let mut r = result();
    file.apply_on(&mut r, jiff::civil::date(2026, 1, 31));
    assert_eq!(ids(&r), ["CVE-2024-13176"]);

    // Suppressed findings are in the JSON with their reason.
    let json: serde_json::Value = serde_json::from_slice(&plinth_vuln::report::write(
        &r,
        plinth_vuln::report::ScanFormat::Json,
        &Default::default(),
    ))
    .unwrap();
    assert_eq!(json["counts"]["suppressed"], 2);
    assert_eq!(json["suppressed"][0]["by"], "ignore-file");
    assert_eq!(
        json["suppressed"][0]["reason"],
        "HTTP/2 push is disabled (until 2026-01-31)"
    );
    assert_eq!(json["suppressed"][0]["finding"]["id"], "CVE-2024-2398");
}

#[test]
fn ignore_matches_aliases_and_binary_names() {
    let mut r = result();
    r.findings[0].aliases = vec!["GHSA-97jv-xxxx-yyyy".into()];
    let file = IgnoreFile::parse(
        "[[ignore]]\nid = \"ghsa-97jv-xxxx-yyyy\"\nreason = \"alias\"\n\n[[ignore]]\nid = \"CVE-2024-13176\"\npackage = \"libssl3\"\nreason = \"binary name\"\n",
    )
    .unwrap();
    assert_eq!(file.apply_on(&mut r, jiff::civil::date(2026, 1, 1)), 2);
    assert_eq!(ids(&r), ["CVE-2025-8058"]);
}

#[test]
fn ignore_entry_without_reason_is_an_error() {
    let e =
        IgnoreFile::parse("[[ignore]]\nid = \"CVE-2025-8058\"\npackage = \"glibc\"\n").unwrap_err();
    assert!(
        e.to_string().contains("entry 1 (CVE-2025-8058)") && e.to_string().contains("reason"),
        "{e}"
    );
    assert!(IgnoreFile::parse("[[ignore]]\nreason = \"no id\"\n").is_err());
    assert!(IgnoreFile::parse("ignore = 3").is_err());
}

/// The shape OpenVEX 0.2.0 documents have (`vexctl create` output): the image as the
/// product, the packages as subcomponents.
const VEX_IMAGE: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f",
  "author": "Example Security Team <security@example.test>",
  "timestamp": "2026-11-01T10:00:00.000000000Z",
  "version": 1,
  "tooling": "vexctl/0.2.6",
  "statements": [
    {
      "vulnerability": {
        "@id": "https://nvd.nist.gov/vuln/detail/CVE-2025-8058",
        "name": "CVE-2025-8058",
        "description": "regcomp double free"
      },
      "timestamp": "2026-11-01T10:00:00Z",
      "products": [
        {
          "@id": "pkg:oci/app@sha256%3A6e1a7b3c9d0f2e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122?repository_url=example.test%2Fapp",
          "subcomponents": [
            { "@id": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64" },
            { "@id": "pkg:deb/debian/libc-bin@2.36-9+deb12u9" }
          ]
        }
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "The service never calls regcomp."
    },
    {
      "vulnerability": { "name": "GHSA-xxxx-curl-0001", "aliases": ["CVE-2024-2398"] },
      "products": [
        { "@id": "pkg:oci/app@sha256%3A6e1a7b3c9d0f2e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122" }
      ],
      "status": "under_investigation"
    },
    {
      "vulnerability": { "name": "CVE-2024-13176" },
      "products": [
        {
          "@id": "pkg:oci/app@sha256%3A6e1a7b3c9d0f2e4a5b6c7d8e9f00112233445566778899aabbccddeeff001122",
          "subcomponents": [ { "@id": "pkg:deb/debian/libssl3" } ]
        }
      ],
      "status": "fixed"
    },
    {
      "vulnerability": { "name": "CVE-2099-0001" },
      "products": [ { "@id": "pkg:deb/debian/libc6" } ],
      "status": "not_affected"
    }
  ]
}"#;

#[test]
fn openvex_not_affected_and_fixed_suppress_investigation_keeps() {
    let doc = vex::parse(VEX_IMAGE.as_bytes()).unwrap();
    assert_eq!(doc.statements.len(), 3);
    assert!(
        doc.warnings[0].contains("without a justification"),
        "{:?}",
        doc.warnings
    );
    let mut r = result();
    let moved = vex::apply(&[doc], &mut r);
    assert_eq!(moved, 2);
    // glibc: both binaries covered: gone. openssl: only libssl3 is covered: split.
    assert_eq!(ids(&r), ["CVE-2024-2398", "CVE-2024-13176"]);
    let openssl = &r.findings[1];
    assert_eq!(
        openssl
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["openssl"]
    );
    assert_eq!(
        r.findings[0].vex_status.as_deref(),
        Some("under_investigation")
    );
    let by_id = |id: &str| r.suppressed.iter().find(|s| s.finding.id == id).unwrap();
    let glibc = by_id("CVE-2025-8058");
    assert_eq!(glibc.by, "openvex");
    assert_eq!(glibc.vex_status.as_deref(), Some("not_affected"));
    assert_eq!(
        glibc.justification.as_deref(),
        Some("vulnerable_code_not_in_execute_path")
    );
    assert!(
        glibc.reason.contains("never calls regcomp"),
        "{}",
        glibc.reason
    );
    assert_eq!(glibc.finding.packages.len(), 2);
    let ssl = by_id("CVE-2024-13176");
    assert_eq!(ssl.vex_status.as_deref(), Some("fixed"));
    assert_eq!(ssl.finding.packages[0].name, "libssl3");
    assert!(r.warnings.iter().any(|w| w.starts_with("vex: ")));
    assert_eq!(r.counts.suppressed, 2);
}

#[test]
fn openvex_latest_statement_wins_and_qualifiers_must_agree() {
    // Two documents: the later says affected again; a statement for another arch.
    let first = r#"{
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.test/vex/1",
      "author": "a", "timestamp": "2026-10-01T00:00:00Z", "version": 1,
      "statements": [{
        "vulnerability": {"name": "CVE-2024-2398"},
        "products": [{"@id": "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u5"}],
        "status": "not_affected", "justification": "vulnerable_code_not_present"
      }, {
        "vulnerability": {"name": "CVE-2025-8058"},
        "products": [{"@id": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=arm64"},
                     {"@id": "pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u9?arch=arm64"}],
        "status": "not_affected", "justification": "component_not_present"
      }]
    }"#;
    let second = r#"{
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.test/vex/2",
      "author": "a", "timestamp": "2026-11-01T00:00:00+01:00", "version": 2,
      "statements": [{
        "vulnerability": {"name": "CVE-2024-2398"},
        "products": [{"@id": "pkg:deb/debian/libcurl4"}],
        "status": "affected", "action_statement": "Upgrade curl."
      }]
    }"#;
    let docs = [
        vex::parse(first.as_bytes()).unwrap(),
        vex::parse(second.as_bytes()).unwrap(),
    ];
    let mut r = result();
    assert_eq!(vex::apply(&docs, &mut r), 0);
    assert_eq!(
        ids(&r),
        ["CVE-2024-2398", "CVE-2025-8058", "CVE-2024-13176"]
    );
    assert_eq!(r.findings[0].vex_status.as_deref(), Some("affected"));

    // Order of the documents given does not matter: time does.
    let mut r = result();
    let swapped = [docs[1].clone(), docs[0].clone()];
    assert_eq!(vex::apply(&swapped, &mut r), 0);
}

#[test]
fn openvex_rejects_what_is_not_openvex() {
    assert!(vex::parse(b"{\"@context\": \"https://cyclonedx.org\", \"statements\": []}").is_err());
    assert!(vex::parse(b"not json").is_err());
    assert!(vex::parse(b"{\"@context\": \"https://openvex.dev/ns/v0.2.0\"}").is_err());
}
