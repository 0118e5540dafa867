//! The advisory and finding model shared by the importers, the database and the matcher.

use serde::{Deserialize, Serialize};

/// How bad a vulnerability is, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No level: an OSV record rated only by a CVSS vector the importer does not score
    /// (v4, or an unparseable v3), or a finding nothing rates.
    Unknown,
    /// Debian's `unimportant`: no security impact in Debian's build.
    Negligible,
    /// Debian urgency `low`, a `low` rating, or a CVSS base score from 0.1 to 3.9.
    Low,
    /// `medium` or `moderate`, or CVSS 4.0 to 6.9.
    Medium,
    /// `high` or `important`, or CVSS 7.0 to 8.9.
    High,
    /// `critical`, or CVSS 9.0 and above.
    Critical,
}

impl Severity {
    /// The lower-case name used in JSON and reports (`medium`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a source says about one package in one release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Affected below the fixed version(s) in `ranges`.
    Fixed,
    /// Affected, no fix yet.
    Open,
    /// Affected; Debian will not fix it (`nodsa_reason: ignored`).
    WontFix,
    /// Affected; the fix is deferred to a point release (`nodsa_reason: postponed`).
    Postponed,
    /// Never affected in this release (`fixed_version: "0"`).
    NotAffected,
    /// The tracker has not determined it yet.
    Undetermined,
    /// The release is end-of-life for this package.
    EndOfLife,
}

/// An affected range in the ecosystem's version scheme: `introduced <= v < fixed`, or
/// `introduced <= v <= last_affected`. A missing `introduced` means "from the start".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Range {
    /// The first affected version; `None` (or `0`) = every version below the upper bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// The first version with the fix (exclusive upper bound); `0` = never affected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The last affected version (inclusive upper bound), when no fixed version is
    /// known. With neither bound the range is open: every version from `introduced` on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

/// One record: advisory `id` about `package` in `ecosystem`.
///
/// Ecosystem keys are normalised: `debian:12`, `alpine:3.20`, `go`, `crates.io`,
/// `pypi`, `npm` (lower case; Debian by release number, Alpine by `major.minor`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    /// `CVE-…`, `GHSA-…`, `GO-…`, `RUSTSEC-…`, `TEMP-…`.
    pub id: String,
    /// Other ids of the same vulnerability (OSV `aliases`: the CVE of a GHSA, …).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub aliases: Vec<String>,
    /// The feed: `debian-tracker`, `osv`, `alpine-secdb`.
    pub source: String,
    /// The normalised ecosystem key (see above).
    pub ecosystem: String,
    /// Debian: the source package; Alpine: the origin; Go: the module path; others: the name.
    pub package: String,
    /// What the source says about the package.
    pub status: Status,
    /// The affected ranges; a package is affected when its version is in any of them
    /// (or in `versions`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ranges: Vec<Range>,
    /// Versions listed as affected one by one (OSV `versions`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub versions: Vec<String>,
    /// How bad it is; `None` when the source gives no rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Where the severity came from: `debian urgency`, `CVSS_V3 (osv)`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_source: Option<String>,
    /// A CVSS vector or score, when the source gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// A short description: OSV `summary` (else the first line of `details`), the
    /// tracker's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// OSV `ecosystem_specific.imports[].symbols` and similar: which parts are affected.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub symbols: Vec<String>,
    /// When the source last changed the record, as it writes it (OSV `modified`,
    /// RFC 3339); `None` for feeds without dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
}

/// One imported source, as recorded in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `debian-tracker`, `osv:Go`, `alpine-secdb:v3.20`, …
    pub name: String,
    /// The URL or file it came from.
    pub origin: String,
    /// Unix seconds of the import.
    pub imported_at: i64,
    /// Advisories stored from it.
    pub records: u64,
    /// Records skipped (unknown ecosystem, unparseable version), with reasons counted.
    pub skipped: u64,
}
