//! Every importer, fed mutated feed documents: random byte flips, deletions, insertions,
//! duplicated slices and truncations of a valid document of each format. Whatever the
//! bytes, an import gives a report or an error naming the file; it never panics, and a
//! JSON document cut short is an error, never a smaller import. (The fuzz target
//! `fuzz/fuzz_targets/vuln_feed.rs` drives the same entry point with coverage guidance.)

use std::path::Path;

use plinth_vuln::import::{Format, check_document};
use proptest::prelude::*;

/// A valid document of each format, in the shape of the real feeds (trimmed from
/// `tests/data/vuln`), with a record of each status the importers handle.
const SEEDS: [(Format, &str); 5] = [
    (
        Format::DebianTracker,
        r#"{"glibc": {"CVE-2025-8058": {"scope": "local", "description": "regcomp double free",
  "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "2.36-9+deb12u13"},
    "fixed_version": "2.36-9+deb12u13", "urgency": "not yet assigned"},
   "bullseye": {"status": "open", "repositories": {"bullseye": "2.31-13+deb11u11"},
    "urgency": "unimportant", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
   "sid": {"status": "resolved", "repositories": {"sid": "2.41-12"}, "fixed_version": "2.41-11",
    "urgency": "medium"}}},
 "TEMP-0000000-3D0D24": {"releases": {"bookworm": {"status": "undetermined",
    "repositories": {"bookworm": "2.36-9+deb12u13"}, "urgency": "low**"}}}},
 "zlib": {"CVE-2023-45853": {"releases": {"bookworm": {"status": "open",
    "repositories": {"bookworm": "1:1.2.13.dfsg-1"}, "urgency": "unimportant",
    "nodsa_reason": "ignored"}}}}}"#,
    ),
    (
        Format::DebianVulnList,
        r#"{"Header": {"ID": "CVE-2025-8058", "Description": "(The regcomp function ...)"},
 "Annotations": [
  {"Type": "package", "Package": "glibc", "Kind": "fixed", "Version": "2.41-11", "BugNo": 1109803},
  {"Type": "package", "Release": "bookworm", "Package": "glibc", "Kind": "fixed", "Version": "2.36-9+deb12u13"},
  {"Type": "package", "Release": "bullseye", "Package": "glibc", "Kind": "postponed", "Description": "Minor issue"},
  {"Type": "NOTE", "Description": "https://sourceware.org/bugzilla/show_bug.cgi?id=33185"}]}"#,
    ),
    (
        Format::DebianDistributions,
        r#"{"bookworm": {"major-version": "12", "support": "lts"},
 "trixie": {"major-version": "13", "support": "stable"}}"#,
    ),
    (
        Format::Osv,
        r#"{"schema_version": "1.3.1", "id": "GO-2022-1059", "modified": "2024-05-20T16:03:47Z",
 "aliases": ["CVE-2022-32149", "GHSA-69ch-w2m2-3vjp"],
 "affected": [{"package": {"name": "golang.org/x/text", "ecosystem": "Go"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.3.8"}]}],
   "ecosystem_specific": {"imports": [{"path": "golang.org/x/text/language",
     "symbols": ["MatchStrings", "ParseAcceptLanguage"]}]}},
  {"package": {"name": "smallvec", "ecosystem": "crates.io"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.3.0"}, {"fixed": "0.6.14"},
     {"introduced": "1.0.0"}, {"fixed": "1.6.1"}]}],
   "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}]}"#,
    ),
    (
        Format::AlpineSecdb,
        r#"{"distroversion": "v3.20", "reponame": "main", "archs": ["x86_64"],
 "packages": [
  {"pkg": {"name": "busybox", "secfixes": {"0": ["CVE-2021-42373"],
    "1.36.1-r31": ["CVE-2024-58251", "CVE-2025-46394"], "1.35.0-r7": ["ALPINE-13661 CVE-2022-28391"]}}},
  {"pkg": {"name": "musl", "secfixes": {"1.2.5-r1": ["CVE-2025-26519"]}}}]}"#,
    ),
];

/// The same secdb in YAML, as the 2020 secdb files are.
const SECDB_YAML: &str = "---
distroversion: v3.11
reponame: main
archs:
  - x86_64
packages:
  - pkg:
      name: musl
      secfixes:
        1.1.24-r2:
          - CVE-2020-28928
  - pkg:
      name: openssl
      secfixes:
        1.1.1g-r0:
          - CVE-2020-1967
";

fn name_of(format: Format) -> String {
    format!("seed-{format}.json")
}

/// Every seed imports something: the mutations start from documents that work.
#[test]
fn seeds_are_valid() {
    for (format, doc) in SEEDS {
        let r = check_document(format, Path::new(&name_of(format)), doc.as_bytes())
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        if format != Format::DebianDistributions {
            assert!(r.records > 0, "{format}: {r:?}");
        }
    }
    let r = check_document(
        Format::AlpineSecdb,
        Path::new("v3.11-main.yaml"),
        SECDB_YAML.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.records, 2, "{r:?}");
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..16),
                // Tokens that steer parsers into their less travelled paths.
                prop::sample::select(vec![
                    b"\"".to_vec(),
                    b"{".to_vec(),
                    b"[".to_vec(),
                    b"null".to_vec(),
                    b"-1".to_vec(),
                    b"1e999".to_vec(),
                    b"\\u0000".to_vec(),
                    b"\xff\xfe".to_vec(),
                    b"~".to_vec(),
                    b":".to_vec(),
                    b"*a &a".to_vec(),
                ]),
            ]
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..256).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Flip(i, b) if !doc.is_empty() => {
            let i = i % doc.len();
            doc[i] ^= b | 1;
        }
        Mutation::Flip(..) => {}
        Mutation::Delete(i, n) => {
            let i = at(*i, doc.len());
            let end = (i + n).min(doc.len());
            doc.drain(i..end);
        }
        Mutation::Insert(i, v) => {
            let i = at(*i, doc.len());
            doc.splice(i..i, v.iter().copied());
        }
        Mutation::Duplicate(i, n) => {
            let i = at(*i, doc.len());
            let end = (i + n).min(doc.len());
            let slice = doc[i..end].to_vec();
            doc.splice(end..end, slice);
        }
        Mutation::Truncate(i) => {
            let i = at(*i, doc.len());
            doc.truncate(i);
        }
    }
}

fn seed() -> impl Strategy<Value = (Format, &'static str)> {
    prop::sample::select(
        SEEDS
            .iter()
            .copied()
            .chain([(Format::AlpineSecdb, SECDB_YAML)])
            .collect::<Vec<_>>(),
    )
}

/// 2,000 cases per property, or `PROPTEST_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any mutation of any seed: a report or an error that names the file.
    #[test]
    fn mutated_documents_never_panic(
        (format, doc) in seed(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = doc.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let name = name_of(format);
        match check_document(format, Path::new(&name), &bytes) {
            Ok(report) => prop_assert!(report.records < 1000, "{report:?}"),
            Err(e) => prop_assert!(e.to_string().contains(&name), "{e}"),
        }
    }

    /// Any bytes at all, in any format.
    #[test]
    fn arbitrary_bytes_never_panic(
        (format, _) in seed(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = check_document(format, Path::new("noise"), &bytes);
    }

    /// A JSON document cut anywhere before its closing brace is an error: a truncated
    /// download never passes for a smaller feed.
    #[test]
    fn truncated_json_is_an_error(
        (format, doc) in prop::sample::select(SEEDS.to_vec()),
        cut in any::<usize>(),
    ) {
        let end = doc.trim_end().len() - 1;
        let cut = cut % end;
        let name = name_of(format);
        let r = check_document(format, Path::new(&name), &doc.as_bytes()[..cut]);
        prop_assert!(r.is_err(), "cut at {cut} of {end}: {r:?}");
    }
}

/// A YAML "billion laughs" document (ten levels of ten aliases: 10^10 nodes once
/// expanded) under a key the importer does not read. The parser skips the value without
/// expanding it, so the import takes no time and memory, and still finds its record.
#[test]
fn yaml_alias_bomb_is_not_expanded() {
    let mut doc = String::from(
        "distroversion: v3.11\nreponame: main\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    doc.push_str(
        "unknown: *a9\npackages:\n  - pkg:\n      name: musl\n      secfixes:\n        \
         1.1.24-r2: [CVE-2020-28928]\n",
    );
    let r = check_document(Format::AlpineSecdb, Path::new("bomb.yaml"), doc.as_bytes()).unwrap();
    assert_eq!(r.records, 1, "{r:?}");
    // Where the importer does read the value, an alias of the wrong shape is an error.
    let doc = doc.replace("[CVE-2020-28928]", "*a9");
    let err = check_document(Format::AlpineSecdb, Path::new("bomb.yaml"), doc.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bomb.yaml"), "{err}");
}

/// The SBOMs `plinth scan` reads (syft's and trivy's, SPDX and CycloneDX), mutated the
/// same way: a package list or an error, never a panic.
mod sbom {
    use super::*;
    use plinth_vuln::sbomin::read_sbom;

    const SBOMS: [&str; 6] = [
        include_str!("../fixtures/sbom/syft-alpine.cdx.json"),
        include_str!("../fixtures/sbom/syft-debian.spdx.json"),
        include_str!("../fixtures/sbom/syft-lang.cdx.json"),
        include_str!("../fixtures/sbom/trivy-alpine.spdx.json"),
        include_str!("../fixtures/sbom/trivy-debian.cdx.json"),
        include_str!("../fixtures/sbom/trivy-lang.spdx.json"),
    ];

    #[test]
    fn fixtures_are_read() {
        for doc in SBOMS {
            let sbom = read_sbom(doc.as_bytes()).unwrap();
            assert!(!plinth_vuln::sbomin::package_set(&sbom).is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases() / 4))]

        #[test]
        fn mutated_sboms_never_panic(
            doc in prop::sample::select(SBOMS.to_vec()),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut bytes = doc.as_bytes().to_vec();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            if let Ok(sbom) = read_sbom(&bytes) {
                let _ = plinth_vuln::sbomin::package_set(&sbom);
            }
        }

        #[test]
        fn purl_decoding_never_panics(s in ".*%.*") {
            let _ = plinth_vuln::sbomin::decode(&s);
        }
    }
}
