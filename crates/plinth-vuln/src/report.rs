//! Scan reports: a table for people, JSON, SARIF 2.1.0 (GitHub code scanning) and
//! CycloneDX 1.6 with `vulnerabilities`; plus the `--fail-on` and `--only-fixed` helpers.
//!
//! Every writer is deterministic: the same [`ScanResult`] gives the same bytes (no
//! clock, no random serial number; a timestamp only when [`ReportOptions::timestamp`]
//! is set).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::import::cvss;
use crate::matcher::{Finding, ScanResult};
use crate::model::{Severity, Status};

/// The output formats of `plinth scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    /// A plain-text table for people.
    Table,
    /// The [`ScanResult`] as JSON.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// CycloneDX 1.6 JSON with `vulnerabilities`.
    CycloneDx,
}

impl ScanFormat {
    /// `table`, `json`, `sarif`, `cyclonedx` (also `cyclonedx-json`, `cdx`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "table" => ScanFormat::Table,
            "json" => ScanFormat::Json,
            "sarif" => ScanFormat::Sarif,
            "cyclonedx" | "cyclonedx-json" | "cdx" => ScanFormat::CycloneDx,
            _ => return None,
        })
    }

    /// The canonical name (`table`, `json`, `sarif`, `cyclonedx`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScanFormat::Table => "table",
            ScanFormat::Json => "json",
            ScanFormat::Sarif => "sarif",
            ScanFormat::CycloneDx => "cyclonedx",
        }
    }
}

/// What the writers need beside the result.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Plinth's version, named as the tool in SARIF and CycloneDX.
    pub tool_version: String,
    /// An RFC 3339 time for CycloneDX `metadata.timestamp` (none by default, so the
    /// output is reproducible).
    pub timestamp: Option<String>,
    /// The table lists suppressed findings one per line (otherwise only their count).
    pub list_suppressed: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            timestamp: None,
            list_suppressed: true,
        }
    }
}

/// Writes `result` in `format`.
pub fn write(result: &ScanResult, format: ScanFormat, opts: &ReportOptions) -> Vec<u8> {
    match format {
        ScanFormat::Table => table(result, opts).into_bytes(),
        ScanFormat::Json => to_json(&JsonReport {
            schema: "plinth-scan/v1",
            tool: Tool {
                name: "plinth",
                version: &opts.tool_version,
            },
            result,
        }),
        ScanFormat::Sarif => to_json(&sarif(result, opts)),
        ScanFormat::CycloneDx => to_json(&cyclonedx(result, opts)),
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("report values serialise");
    out.push(b'\n');
    out
}

/// Whether any finding is at least `threshold` severe (`--fail-on`). Findings of
/// unknown severity never trip it: they sort below `negligible`.
pub fn exceeds(result: &ScanResult, threshold: Severity) -> bool {
    result.findings.iter().any(|f| f.severity >= threshold)
}

/// Keeps only findings with a fixed version (`--only-fixed`); the others are counted
/// in `hidden.not_fixed`.
pub fn only_fixed(result: &mut ScanResult) {
    let before = result.findings.len();
    result.findings.retain(|f| f.fixed_version.is_some());
    result.hidden.not_fixed += before - result.findings.len();
    result.finish();
}

/// `3 days`, `5 hours`, `2 minutes`, `10 seconds`.
pub fn ago(secs: u64) -> String {
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// How a status reads in the table and in messages.
pub fn status_label(s: &Status) -> &'static str {
    match s {
        Status::Fixed => "fixed",
        Status::Open => "open (no fix yet)",
        Status::WontFix => "won't fix",
        Status::Postponed => "postponed (fix deferred)",
        Status::NotAffected => "not affected",
        Status::Undetermined => "undetermined",
        Status::EndOfLife => "end-of-life",
    }
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    tool: Tool<'a>,
    #[serde(flatten)]
    result: &'a ScanResult,
}

// ---------------------------------------------------------------------------------------
// Table

const ORDER: [Severity; 6] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Negligible,
    Severity::Unknown,
];

fn table(r: &ScanResult, opts: &ReportOptions) -> String {
    let mut o = String::new();
    let _ = write!(o, "Subject:  {}", r.subject);
    if let Some(d) = &r.digest {
        let _ = write!(o, " ({d})");
    }
    o.push('\n');
    if let Some(db) = &r.database {
        let _ = writeln!(
            o,
            "Database: {} advisories from {} sources, oldest imported {}{}",
            db.advisories,
            db.sources.len(),
            db.oldest_import.as_deref().unwrap_or("never"),
            db.sources
                .iter()
                .map(|s| s.imported_at)
                .min()
                .map(|t| format!(
                    " ({} ago)",
                    ago(crate::db::now_secs().saturating_sub(t).max(0) as u64)
                ))
                .unwrap_or_default()
        );
    }
    let os = match (&r.distro, &r.ecosystem) {
        (Some(d), Some(e)) => format!(
            "{} [{e}]",
            d.pretty_name.clone().unwrap_or_else(|| d.purl_qualifier())
        ),
        (Some(d), None) => d.pretty_name.clone().unwrap_or_else(|| d.id.clone()),
        _ => "none detected".to_string(),
    };
    let _ = writeln!(o, "OS:       {os}, {}", r.release_status.as_str());
    if let Some(n) = &r.release_note {
        let _ = writeln!(o, "          {n}");
    }
    let c = &r.counts;
    let _ = writeln!(
        o,
        "Found:    {} (critical {}, high {}, medium {}, low {}, negligible {}, unknown {}); {} suppressed",
        c.total, c.critical, c.high, c.medium, c.low, c.negligible, c.unknown, c.suppressed
    );
    let h = &r.hidden;
    let mut hidden = Vec::new();
    if h.negligible > 0 {
        hidden.push(format!("{} negligible (Debian: unimportant)", h.negligible));
    }
    if h.debian_ignored > 0 {
        hidden.push(format!(
            "{} Debian <ignored> without urgency",
            h.debian_ignored
        ));
    }
    if h.undetermined > 0 {
        hidden.push(format!("{} undetermined", h.undetermined));
    }
    if h.kernel_headers > 0 {
        hidden.push(format!(
            "{} packages of the kernel source without a kernel (headers, tools) not matched against kernel CVEs",
            h.kernel_headers
        ));
    }
    if h.not_fixed > 0 {
        hidden.push(format!("{} without a fix", h.not_fixed));
    }
    if !hidden.is_empty() {
        let _ = writeln!(o, "Hidden:   {}", hidden.join("; "));
    }

    let row = |f: &Finding| -> [String; 5] {
        [
            f.id.clone(),
            f.package_label(),
            f.installed_version.clone(),
            f.fixed_version.clone().unwrap_or_else(|| "-".into()),
            status_label(&f.status).to_string(),
        ]
    };
    let header = ["ID", "PACKAGE", "INSTALLED", "FIXED-IN", "STATUS"].map(str::to_string);
    let rows: Vec<[String; 5]> = r.findings.iter().map(row).collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for rw in &rows {
        for (w, cell) in widths.iter_mut().zip(rw) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 5]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    for sev in ORDER {
        let group: Vec<usize> = (0..r.findings.len())
            .filter(|&i| r.findings[i].severity == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "\n{} ({})",
            sev.as_str().to_ascii_uppercase(),
            group.len()
        );
        let _ = writeln!(o, "{}", line(&header));
        for i in group {
            let _ = writeln!(o, "{}", line(&rows[i]));
        }
    }
    if r.findings.is_empty() {
        o.push_str("\nNo vulnerabilities found");
        if r.release_status != crate::matcher::ReleaseStatus::Supported
            && r.release_status != crate::matcher::ReleaseStatus::NoOs
        {
            o.push_str(" in what could be matched: the OS packages were NOT checked");
        }
        o.push_str(".\n");
    }
    if !r.suppressed.is_empty() && opts.list_suppressed {
        let _ = writeln!(o, "\nSuppressed ({}):", r.suppressed.len());
        for s in &r.suppressed {
            let _ = writeln!(
                o,
                "  {}  {}  [{}] {}",
                s.finding.id,
                s.finding.package_label(),
                s.by,
                s.reason
            );
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings:");
        for w in &r.warnings {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// SARIF 2.1.0
//
// Written with serde_json, not the `serde-sarif` crate: that crate passed our tests
// (byte-identical output, OASIS schema valid) but generates its types at build time
// (schemafy, syn 1, typed-builder), about 30 s of CPU on every cold build, for the few
// dozen lines below.

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Negligible | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity`: the CVSS score when there is one, else a score inside
/// the severity's band.
fn security_severity(f: &Finding) -> Option<String> {
    if let Some(score) = f.cvss.as_deref().and_then(cvss::score)
        && cvss::severity_of_score(score) == f.severity
    {
        return Some(format!("{score:.1}"));
    }
    Some(
        match f.severity {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "2.0",
            Severity::Negligible => "0.1",
            Severity::Unknown => return None,
        }
        .to_string(),
    )
}

fn message(f: &Finding) -> String {
    let bins: Vec<String> = f
        .packages
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    let mut m = format!(
        "{} is affected by {} ({} severity",
        bins.join(", "),
        f.id,
        f.severity.as_str()
    );
    if f.severity_source != "none" {
        let _ = write!(m, ", from {}", f.severity_source);
    }
    m.push(')');
    if f.packages.iter().any(|p| p.name != f.source_package) {
        let _ = write!(
            m,
            "; source package {} {}",
            f.source_package, f.installed_version
        );
    }
    match (&f.status, &f.fixed_version) {
        (_, Some(v)) => {
            let _ = write!(m, ". Fixed in {v}.");
        }
        (s, None) => {
            let _ = write!(m, ". Status: {}.", status_label(s));
        }
    }
    m
}

fn sarif(r: &ScanResult, opts: &ReportOptions) -> Value {
    // One rule per vulnerability ID, in order of first appearance (findings are sorted).
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for f in &r.findings {
        if rule_index.contains_key(f.id.as_str()) {
            continue;
        }
        rule_index.insert(&f.id, rules.len());
        let short = match &f.summary {
            Some(s) if !s.is_empty() => first_sentence(s),
            _ => format!("{} in {}", f.id, f.source_package),
        };
        let mut props = json!({
            "tags": ["security", "vulnerability", f.ecosystem],
            "precision": "very-high",
        });
        if let Some(s) = security_severity(f) {
            props["security-severity"] = json!(s);
        }
        let mut help = format!(
            "{}\n\nSeverity: {} ({})",
            f.id,
            f.severity.as_str(),
            f.severity_source
        );
        if !f.aliases.is_empty() {
            let _ = write!(help, "\nAliases: {}", f.aliases.join(", "));
        }
        let _ = write!(help, "\nDetails: {}", f.data_source);
        rules.push(json!({
            "id": f.id,
            "name": rule_name(&f.id),
            "shortDescription": {"text": short},
            "fullDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
            "helpUri": f.data_source,
            "help": {"text": help},
            "defaultConfiguration": {"level": sarif_level(f.severity)},
            "properties": props,
        }));
    }
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut uris: Vec<String> = f
                .packages
                .iter()
                .flat_map(|p| p.locations.iter().cloned())
                .collect();
            uris.sort();
            uris.dedup();
            if uris.is_empty() {
                uris.push(if r.subject.is_empty() {
                    "image".into()
                } else {
                    r.subject.clone()
                });
            }
            let locations: Vec<Value> = uris
                .iter()
                .map(|u| {
                    json!({
                        "physicalLocation": {"artifactLocation": {"uri": uri_escape(u)}},
                        "message": {"text": format!("{} installed here", f.package_label())},
                    })
                })
                .collect();
            let mut props = json!({
                "package": f.source_package,
                "installedVersion": f.installed_version,
                "status": status_label(&f.status),
                "severity": f.severity.as_str(),
                "ecosystem": f.ecosystem,
                "purls": f.packages.iter().map(|p| p.purl.clone()).collect::<Vec<_>>(),
            });
            if let Some(v) = &f.fixed_version {
                props["fixedVersion"] = json!(v);
            }
            json!({
                "ruleId": f.id,
                "ruleIndex": rule_index[f.id.as_str()],
                "level": sarif_level(f.severity),
                "message": {"text": message(f)},
                "locations": locations,
                "partialFingerprints": {
                    "plinthFinding/v1": format!("{}|{}|{}", f.id, f.ecosystem, f.source_package),
                },
                "properties": props,
            })
        })
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": "plinth",
            "version": opts.tool_version,
            "semanticVersion": opts.tool_version,
            "rules": rules,
        }},
        "results": results,
        "columnKind": "utf16CodeUnits",
    });
    let mut props = json!({"releaseStatus": r.release_status.as_str()});
    if let Some(e) = &r.ecosystem {
        props["ecosystem"] = json!(e);
    }
    if !r.warnings.is_empty() {
        props["warnings"] = json!(r.warnings);
    }
    if let Some(n) = &r.release_note {
        props["releaseNote"] = json!(n);
    }
    if let Some(db) = &r.database {
        props["database"] = json!(db);
    }
    run["properties"] = props;
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// `CVE-2023-45853` → `Cve202345853`: SARIF's rule `name` is a readable identifier.
fn rule_name(id: &str) -> String {
    let mut out = String::new();
    for part in id.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

fn first_sentence(s: &str) -> String {
    let s = s.trim();
    let end = s.find(". ").map_or(s.len(), |i| i + 1);
    let mut out: String = s[..end].chars().take(200).collect();
    if out.len() < s[..end].len() {
        out.push('…');
    }
    out
}

/// A relative path as a URI reference: characters outside RFC 3986's unreserved set and
/// `/` percent-encoded.
fn uri_escape(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// CycloneDX 1.6

fn cdx_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Negligible => "info",
        Severity::Unknown => "unknown",
    }
}

fn cdx_rating(f: &Finding) -> Value {
    let mut rating = json!({
        "source": {"name": f.severity_source},
        "severity": cdx_severity(f.severity),
        "method": "other",
    });
    if let Some(vector) = &f.cvss {
        let method = if vector.starts_with("CVSS:3.1/") {
            Some("CVSSv31")
        } else if vector.starts_with("CVSS:3.0/") {
            Some("CVSSv3")
        } else if vector.starts_with("CVSS:4.0/") {
            Some("CVSSv4")
        } else {
            None
        };
        if let Some(m) = method {
            rating["method"] = json!(m);
            rating["vector"] = json!(vector);
            if let Some(score) = cvss::score(vector) {
                rating["score"] = json!(score);
            }
        }
    }
    rating
}

fn cdx_vulnerability(f: &Finding, analysis: Option<Value>) -> Value {
    let mut v = json!({
        "id": f.id,
        "source": {"name": f.feed, "url": f.data_source},
        "ratings": [cdx_rating(f)],
        "affects": f.packages.iter().map(|p| json!({
            "ref": p.purl,
            "versions": [{"version": p.version, "status": "affected"}],
        })).collect::<Vec<_>>(),
    });
    if !f.aliases.is_empty() {
        v["references"] = json!(
            f.aliases
                .iter()
                .map(|a| json!({"id": a, "source": {"name": alias_source(a)}}))
                .collect::<Vec<_>>()
        );
    }
    if let Some(s) = &f.summary {
        v["description"] = json!(s);
    }
    if let Some(fixed) = &f.fixed_version {
        v["recommendation"] = json!(format!("Upgrade {} to {fixed} or later.", f.source_package));
    }
    if let Some(a) = analysis {
        v["analysis"] = a;
    }
    v
}

fn alias_source(id: &str) -> &'static str {
    if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub Advisories"
    } else if id.starts_with("GO-") {
        "Go Vulnerability Database"
    } else if id.starts_with("RUSTSEC-") {
        "RustSec"
    } else {
        "OSV"
    }
}

/// CycloneDX's `analysis` for statuses that say more than "affected".
fn status_analysis(f: &Finding) -> Option<Value> {
    let release = &f.ecosystem;
    Some(match f.status {
        Status::WontFix => json!({
            "state": "exploitable",
            "response": ["will_not_fix"],
            "detail": format!("The distribution will not fix this in {release} (no-DSA: ignored)."),
        }),
        Status::Postponed => json!({
            "state": "exploitable",
            "detail": format!("The fix is deferred to a later point release of {release} (no-DSA: postponed)."),
        }),
        Status::EndOfLife => json!({
            "state": "exploitable",
            "response": ["can_not_fix"],
            "detail": format!("The package is end-of-life in {release}: no fix will come."),
        }),
        Status::Undetermined => json!({
            "state": "in_triage",
            "detail": "The distribution has not determined whether this release is affected.",
        }),
        _ => return None,
    })
}

fn cyclonedx(r: &ScanResult, opts: &ReportOptions) -> Value {
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    let mut vulns = Vec::new();
    let add_components = |f: &Finding, components: &mut BTreeMap<String, Value>| {
        for p in &f.packages {
            components.entry(p.purl.clone()).or_insert_with(|| {
                json!({
                    "bom-ref": p.purl,
                    "type": "library",
                    "name": p.name,
                    "version": p.version,
                    "purl": p.purl,
                })
            });
        }
    };
    for f in &r.findings {
        add_components(f, &mut components);
        let mut v = cdx_vulnerability(f, status_analysis(f));
        if let Some(s) = &f.vex_status {
            v["properties"] = json!([{"name": "plinth:vex:status", "value": s}]);
        }
        vulns.push(v);
    }
    // VEX-suppressed findings stay in the BOM with their analysis; ignore-file ones are
    // a local policy, not a statement about the image, and are left out.
    for s in r.suppressed.iter().filter(|s| s.by == "openvex") {
        let f = &s.finding;
        add_components(f, &mut components);
        let mut analysis = json!({"detail": s.reason});
        if s.vex_status.as_deref() == Some("fixed") {
            analysis["state"] = json!("resolved");
        } else {
            analysis["state"] = json!("not_affected");
            if let Some(j) = s
                .justification
                .as_deref()
                .and_then(crate::vex::cyclonedx_justification)
            {
                analysis["justification"] = json!(j);
            }
        }
        vulns.push(cdx_vulnerability(f, Some(analysis)));
    }
    // Components without a PURL cannot be referenced: drop their empty-keyed entry.
    components.remove("");

    let mut subject = json!({
        "bom-ref": "plinth-subject",
        "type": "container",
        "name": if r.subject.is_empty() { "image" } else { r.subject.as_str() },
    });
    if let Some(d) = &r.digest {
        subject["version"] = json!(d);
    }
    let mut metadata = json!({
        "tools": {"components": [{
            "type": "application",
            "name": "plinth",
            "version": opts.tool_version,
        }]},
        "component": subject,
    });
    if let Some(t) = &opts.timestamp {
        metadata["timestamp"] = json!(t);
    }
    let mut props =
        vec![json!({"name": "plinth:scan:release-status", "value": r.release_status.as_str()})];
    if let Some(e) = &r.ecosystem {
        props.push(json!({"name": "plinth:scan:ecosystem", "value": e}));
    }
    if let Some(db) = &r.database {
        props.push(
            json!({"name": "plinth:scan:database:advisories", "value": db.advisories.to_string()}),
        );
        if let Some(t) = &db.oldest_import {
            props.push(json!({"name": "plinth:scan:database:oldest-import", "value": t}));
        }
    }
    metadata["properties"] = json!(props);
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components.into_values().collect::<Vec<_>>(),
        "vulnerabilities": vulns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!(ScanFormat::parse("SARIF"), Some(ScanFormat::Sarif));
        assert_eq!(ScanFormat::parse("cdx"), Some(ScanFormat::CycloneDx));
        assert_eq!(ScanFormat::parse("xml"), None);
    }

    #[test]
    fn rule_names_and_uris() {
        assert_eq!(rule_name("CVE-2023-45853"), "Cve202345853");
        assert_eq!(rule_name("GHSA-abcd-1234"), "GhsaAbcd1234");
        assert_eq!(
            uri_escape("var/lib/dpkg/status.d/libc6"),
            "var/lib/dpkg/status.d/libc6"
        );
        assert_eq!(uri_escape("usr/bin/a b"), "usr/bin/a%20b");
    }
}
