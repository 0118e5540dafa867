//! The matcher: the packages of an [`Sbom`] against the advisories of an
//! [`AdvisoryLookup`] (the database, or a [`MemoryStore`] in tests), giving findings.
//!
//! # Rules
//!
//! **Release.** The OS release comes from `sbom.distro`: Debian by `VERSION_ID`'s major
//! number (`12`, also from `12.11` as trivy writes it), else by codename (`bookworm` →
//! `12`); Alpine by `major.minor` of `VERSION_ID` (`3.20.3` → `alpine:3.20`). OS packages
//! with no release are an error ([`MatchError::UnknownRelease`]): zero findings are
//! never reported because the release was not known. A release the database does not
//! hold, while it holds other releases of that distribution, is reported as
//! [`ReleaseStatus::EndOfLife`] (older than every held release: the feeds dropped it) or
//! [`ReleaseStatus::Unsupported`] (newer, or a gap); its OS packages are then not
//! matched at all, and nothing is invented from another release's data.
//!
//! **Distribution packages** (Debian, Alpine) are matched by source package (Debian's
//! `Source:`, Alpine's `origin`) and source version, with one finding per (source
//! package, source version, advisory) listing every binary package it covers.
//! - `Fixed`: affected while the source version is below the fixed version.
//! - `Open`, `WontFix`, `Postponed`, `EndOfLife`: affected, with that status.
//! - `NotAffected`: nothing.
//! - `Undetermined`: only with [`MatchOptions::include_undetermined`].
//! - Severity `Negligible` (Debian's `unimportant`): hidden unless
//!   [`MatchOptions::include_negligible`].
//! - Debian `<ignored>` (`WontFix`) entries to which Debian assigned no urgency are
//!   hidden unless [`MatchOptions::include_debian_ignored`]. The tracker uses this for
//!   "affects code Debian does not build or ship" (zlib's CVE-2023-45853 is in minizip,
//!   which bookworm's `src:zlib` does not build: grype#2412) and for minor issues it
//!   judged not worth a fix; either way Debian gave it no severity, and borrowing NVD's
//!   (9.8 for zlib) would overrule Debian's own judgement of its build. Ignored entries
//!   that do carry an urgency are reported (status `won't-fix`, that severity).
//! - Binaries of source `linux` that hold no kernel code (`linux-libc-dev`,
//!   `linux-headers-*`, `linux-kbuild-*`, `linux-source*`, `linux-doc*`,
//!   `linux-support-*`, `linux-compiler-*`, `linux-config-*`) are not matched: kernel
//!   CVEs are about a running kernel, and a container runs the host's (trivy#1596,
//!   grype#942). A `linux-image-*` in the image is still matched.
//!
//! **Language packages** are matched by name in the ecosystems `go` (module path; the
//! toolchain is the module `stdlib`, versions without the `go`/`v` prefix), `crates.io`,
//! `pypi` (PEP 503-normalised name) and `npm`, against OSV ranges (`introduced <= v <
//! fixed`, `introduced <= v <= last_affected`) and the exact `versions` list.
//!
//! **Severity**: the advisory's own (Debian's urgency for the tracker; for OSV what its
//! importer derived from CVSS), else a CVSS score or v3 vector the advisory carries,
//! else `unknown`; [`Finding::severity_source`] says which.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use plinth_sbom::{Distro, Package, PackageKind, Sbom};
use serde::Serialize;

use crate::model::{Advisory, Range, Severity, Status};

/// Where advisories come from: the database, or a [`MemoryStore`].
pub trait AdvisoryLookup {
    /// The advisories about `package` (Debian: source package; Alpine: origin; Go:
    /// module path) in `ecosystem` (`debian:12`, `alpine:3.20`, `go`, `crates.io`,
    /// `pypi`, `npm`).
    fn advisories(&self, ecosystem: &str, package: &str) -> Result<Vec<Advisory>, String>;
    /// Every ecosystem key that holds at least one advisory.
    fn ecosystems(&self) -> Vec<String>;
}

/// Advisories held in memory, keyed by (ecosystem, package).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    records: BTreeMap<(String, String), Vec<Advisory>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, advisory: Advisory) {
        self.records
            .entry((advisory.ecosystem.clone(), advisory.package.clone()))
            .or_default()
            .push(advisory);
    }

    /// Number of advisories held.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl FromIterator<Advisory> for MemoryStore {
    fn from_iter<I: IntoIterator<Item = Advisory>>(iter: I) -> Self {
        let mut store = MemoryStore::new();
        for a in iter {
            store.insert(a);
        }
        store
    }
}

impl AdvisoryLookup for MemoryStore {
    fn advisories(&self, ecosystem: &str, package: &str) -> Result<Vec<Advisory>, String> {
        Ok(self
            .records
            .get(&(ecosystem.to_string(), package.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    fn ecosystems(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.records.keys().map(|(e, _)| e).collect();
        set.into_iter().cloned().collect()
    }
}

/// What to report beyond the default.
#[derive(Clone, Debug, Default)]
pub struct MatchOptions {
    /// Report advisories the tracker has not triaged for the release yet.
    pub include_undetermined: bool,
    /// Report Debian's `unimportant` ("no security impact in Debian") issues.
    pub include_negligible: bool,
    /// Report Debian `<ignored>` issues to which Debian assigned no urgency.
    pub include_debian_ignored: bool,
}

/// Why a scan could not be done.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// OS packages are present but their release is not known: refusing to report zero
    /// vulnerabilities for them.
    #[error(
        "cannot tell which release the {os_packages} OS packages belong to ({reason}); \
         refusing to report zero vulnerabilities for them"
    )]
    UnknownRelease { reason: String, os_packages: usize },
    /// The advisory store failed.
    #[error("looking up advisories for {package} in {ecosystem}: {message}")]
    Lookup {
        ecosystem: String,
        package: String,
        message: String,
    },
}

/// Whether the OS release could be matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    /// The database covers the release: its OS packages were matched.
    Supported,
    /// Older than every release of the distribution the database holds: the feeds no
    /// longer cover it. OS packages were not matched.
    EndOfLife,
    /// Not held (a newer or testing release, a gap, or a distribution without a feed).
    /// OS packages were not matched.
    Unsupported,
    /// No operating system and no OS packages: only language packages were matched.
    NoOs,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Supported => "supported",
            ReleaseStatus::EndOfLife => "end-of-life",
            ReleaseStatus::Unsupported => "unsupported",
            ReleaseStatus::NoOs => "no-os",
        }
    }
}

/// One package a finding covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AffectedPackage {
    pub name: String,
    pub version: String,
    pub purl: String,
    /// Where the package was found (no leading `/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
}

/// One vulnerability in one (source) package.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Debian: the source package; Alpine: the origin; others: the package name.
    pub source_package: String,
    /// The version compared: the source version for distributions.
    pub installed_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    pub status: Status,
    pub severity: Severity,
    /// Where the severity came from: `debian urgency`, `CVSS_V3 (osv)`, `none`, …
    pub severity_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The binary packages it covers, sorted.
    pub packages: Vec<AffectedPackage>,
    /// `debian:12`, `alpine:3.20`, `go`, …
    pub ecosystem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The feed's page for the advisory.
    pub data_source: String,
    /// The feed: `debian-tracker`, `alpine-secdb`, `osv`, …
    pub feed: String,
    /// An OpenVEX status that applied and kept the finding (`affected`,
    /// `under_investigation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex_status: Option<String>,
}

impl Finding {
    /// Whether `id` is this finding's ID or one of its aliases.
    pub fn is_known_as(&self, id: &str) -> bool {
        self.id.eq_ignore_ascii_case(id) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    }

    /// `zlib (zlib1g)` or `openssl (libssl3, openssl)`, or just the name.
    pub fn package_label(&self) -> String {
        let bins: Vec<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        if bins.len() == 1 && bins[0] == self.source_package {
            self.source_package.clone()
        } else {
            format!("{} ({})", self.source_package, bins.join(", "))
        }
    }

    #[allow(clippy::type_complexity)]
    fn sort_key(
        &self,
    ) -> (
        std::cmp::Reverse<Severity>,
        (u32, u64, &str),
        &str,
        &str,
        &str,
    ) {
        (
            std::cmp::Reverse(self.severity),
            crate::archive::cve_order(&self.id),
            &self.source_package,
            &self.installed_version,
            &self.ecosystem,
        )
    }
}

/// A finding taken out by an ignore rule or a VEX statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Suppressed {
    /// `ignore-file` or `openvex`.
    pub by: String,
    pub reason: String,
    /// The OpenVEX status that suppressed it (`not_affected`, `fixed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex_status: Option<String>,
    /// The OpenVEX justification label, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    pub finding: Finding,
}

/// Findings per severity (after suppression).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub negligible: usize,
    pub unknown: usize,
    pub total: usize,
    pub suppressed: usize,
}

/// What the default rules left out, so a report can say so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hidden {
    /// Findings of Debian's `unimportant` severity.
    pub negligible: usize,
    /// Findings the tracker has not triaged yet.
    pub undetermined: usize,
    /// Debian `<ignored>` findings without an urgency.
    pub debian_ignored: usize,
    /// Binary packages of source `linux` holding no kernel code, not matched.
    pub kernel_headers: usize,
    /// Findings without a fixed version, dropped by [`crate::report::only_fixed`].
    pub not_fixed: usize,
}

/// Which data a scan used, so every report can say how old it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    pub path: String,
    pub advisories: u64,
    /// When the stalest source was imported (RFC 3339): the data is at least this old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_import: Option<String>,
    pub sources: Vec<crate::model::SourceInfo>,
}

/// The outcome of [`scan`].
#[derive(Clone, Debug, Serialize)]
pub struct ScanResult {
    /// The scanned subject's name.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// The ecosystem key of the OS release, e.g. `debian:12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    pub release_status: ReleaseStatus,
    /// Why the release was not matched, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_note: Option<String>,
    /// The database the advisories came from (set by the caller that opened it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
    pub counts: Counts,
    pub hidden: Hidden,
    /// Sorted by severity (highest first), then ID, then package.
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ScanResult {
    /// Sorts findings and suppressed findings and recomputes the counts.
    pub fn finish(&mut self) {
        self.findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.suppressed
            .sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
        let mut c = Counts::default();
        for f in &self.findings {
            match f.severity {
                Severity::Critical => c.critical += 1,
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
                Severity::Negligible => c.negligible += 1,
                Severity::Unknown => c.unknown += 1,
            }
        }
        c.total = self.findings.len();
        c.suppressed = self.suppressed.len();
        self.counts = c;
    }

    /// Moves every finding for which `rule` answers `Some((by, reason))` to
    /// [`ScanResult::suppressed`]; returns how many moved.
    pub fn suppress(
        &mut self,
        mut rule: impl FnMut(&Finding) -> Option<(String, String)>,
    ) -> usize {
        let mut kept = Vec::with_capacity(self.findings.len());
        let mut moved = 0;
        for f in std::mem::take(&mut self.findings) {
            match rule(&f) {
                Some((by, reason)) => {
                    moved += 1;
                    self.suppressed.push(Suppressed {
                        by,
                        reason,
                        vex_status: None,
                        justification: None,
                        finding: f,
                    })
                }
                None => kept.push(f),
            }
        }
        self.findings = kept;
        self.finish();
        moved
    }
}

/// The ecosystem key of an OS release: `debian:12`, `alpine:3.20`, `ubuntu:22.04`, …
/// `None` when the distro names no usable version.
pub fn release_key(distro: &Distro) -> Option<String> {
    let id = distro.id.to_ascii_lowercase();
    let version = distro.version_id.as_deref().map(str::trim).unwrap_or("");
    match id.as_str() {
        "debian" => {
            let major = version.split('.').next().unwrap_or("");
            if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("debian:{major}"));
            }
            let codename = distro
                .codename
                .as_deref()
                .or_else(|| (!version.is_empty()).then_some(version))
                .map(|c| c.split('/').next().unwrap_or(c).to_ascii_lowercase())?;
            plinth_dpkg::releases::codename_number(&codename).map(|n| format!("debian:{n}"))
        }
        "alpine" => {
            let mut parts = version.split('.');
            let major = parts
                .next()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?;
            let minor: String = parts
                .next()?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if major.is_empty() || minor.is_empty() {
                return None;
            }
            Some(format!("alpine:{major}.{minor}"))
        }
        _ if !id.is_empty() && !version.is_empty() => Some(format!("{id}:{version}")),
        _ => None,
    }
}

/// Matches every package of `sbom`; see the module documentation for the rules.
pub fn scan(
    sbom: &Sbom,
    lookup: &dyn AdvisoryLookup,
    opts: &MatchOptions,
) -> Result<ScanResult, MatchError> {
    let ecosystems: BTreeSet<String> = lookup.ecosystems().into_iter().collect();
    let os_packages: Vec<&Package> = sbom.packages.iter().filter(|p| p.kind().is_os()).collect();
    let mut result = ScanResult {
        subject: sbom.name.clone(),
        digest: sbom.digest.clone(),
        distro: sbom.distro.clone(),
        ecosystem: None,
        release_status: ReleaseStatus::NoOs,
        release_note: None,
        database: None,
        counts: Counts::default(),
        hidden: Hidden::default(),
        findings: Vec::new(),
        suppressed: Vec::new(),
        warnings: sbom.warnings.iter().map(|w| format!("sbom: {w}")).collect(),
    };

    // The release.
    let mut os_key = None;
    match &sbom.distro {
        None if !os_packages.is_empty() => {
            return Err(MatchError::UnknownRelease {
                reason: "no operating system was detected (no os-release)".into(),
                os_packages: os_packages.len(),
            });
        }
        None => {
            result.release_note = Some(
                "no operating system and no OS packages: only language packages were matched"
                    .into(),
            );
        }
        Some(distro) => match release_key(distro) {
            None if !os_packages.is_empty() => {
                return Err(MatchError::UnknownRelease {
                    reason: format!(
                        "{} names no version or known codename",
                        if distro.id.is_empty() {
                            "the os-release"
                        } else {
                            distro.id.as_str()
                        }
                    ),
                    os_packages: os_packages.len(),
                });
            }
            None => {
                result.release_status = ReleaseStatus::Unsupported;
                result.release_note = Some(format!(
                    "the {} release is not known; there are no OS packages to match",
                    distro.id
                ));
            }
            Some(key) => {
                let (status, note) = release_status(&key, distro, &ecosystems);
                result.ecosystem = Some(key.clone());
                result.release_status = status;
                result.release_note = note;
                if status == ReleaseStatus::Supported {
                    os_key = Some(key);
                } else if !os_packages.is_empty() {
                    result.warnings.push(format!(
                        "{} OS packages were not matched: {}",
                        os_packages.len(),
                        result
                            .release_note
                            .as_deref()
                            .unwrap_or("release not covered")
                    ));
                }
            }
        },
    }

    let mut findings = Vec::new();
    if let (Some(key), Some(distro)) = (&os_key, &sbom.distro) {
        let expected = os_kind(&distro.id);
        let (matching, other): (Vec<&Package>, Vec<&Package>) = os_packages
            .iter()
            .copied()
            .partition(|p| expected.is_none_or(|k| p.kind() == k));
        if !other.is_empty() {
            result.warnings.push(format!(
                "{} {} packages in a {} image were not matched",
                other.len(),
                other[0].kind().as_str(),
                distro.id
            ));
        }
        match_distro(key, &matching, lookup, opts, &mut findings, &mut result)?;
    }
    match_languages(
        sbom,
        &ecosystems,
        lookup,
        &mut findings,
        &mut result.warnings,
    )?;

    result.findings = findings;
    result.finish();
    Ok(result)
}

/// The package kind a distribution's package manager installs.
fn os_kind(distro_id: &str) -> Option<PackageKind> {
    match distro_id.to_ascii_lowercase().as_str() {
        "debian" | "ubuntu" => Some(PackageKind::Deb),
        "alpine" | "wolfi" | "chainguard" => Some(PackageKind::Apk),
        _ => None,
    }
}

fn release_status(
    key: &str,
    distro: &Distro,
    ecosystems: &BTreeSet<String>,
) -> (ReleaseStatus, Option<String>) {
    if ecosystems.contains(key) {
        return (ReleaseStatus::Supported, None);
    }
    let (family, version) = key.split_once(':').unwrap_or((key, ""));
    let name = distro
        .pretty_name
        .clone()
        .unwrap_or_else(|| key.to_string());
    let held: Vec<&str> = ecosystems
        .iter()
        .filter_map(|e| e.strip_prefix(family)?.strip_prefix(':'))
        .collect();
    if held.is_empty() {
        return (
            ReleaseStatus::Unsupported,
            Some(format!(
                "the vulnerability database holds no advisories for {family} \
                 (no feed for it, or none imported); {name} was not matched"
            )),
        );
    }
    let mut sorted = held.clone();
    sorted.sort_by(|a, b| release_order(a, b));
    let list = sorted.join(", ");
    if release_order(version, sorted[0]) == Ordering::Less {
        (
            ReleaseStatus::EndOfLife,
            Some(format!(
                "{name} ({key}) is end-of-life: the {family} security feed no longer covers it \
                 (it covers {list}); its packages get no security updates. Upgrade the base image."
            )),
        )
    } else {
        (
            ReleaseStatus::Unsupported,
            Some(format!(
                "{name} ({key}) is not in the vulnerability database, which covers {family} {list}"
            )),
        )
    }
}

/// Orders release versions numerically (`9` < `10` < `sid`; `3.9` < `3.20`).
fn release_order(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
            .collect()
    };
    parse(a).cmp(&parse(b))
}

/// Binaries of source `linux` that hold no kernel code.
pub fn kernel_headers_only(binary: &str) -> bool {
    binary == "linux-libc-dev"
        || [
            "linux-headers-",
            "linux-kbuild-",
            "linux-source",
            "linux-doc",
            "linux-support-",
            "linux-compiler-",
            "linux-config-",
        ]
        .iter()
        .any(|p| binary.starts_with(p))
}

fn lookup_err(ecosystem: &str, package: &str) -> impl FnOnce(String) -> MatchError {
    let (ecosystem, package) = (ecosystem.to_string(), package.to_string());
    move |message| MatchError::Lookup {
        ecosystem,
        package,
        message,
    }
}

fn is_debian(adv: &Advisory) -> bool {
    adv.source.starts_with("debian") || adv.ecosystem.starts_with("debian:")
}

fn match_distro(
    key: &str,
    packages: &[&Package],
    lookup: &dyn AdvisoryLookup,
    opts: &MatchOptions,
    findings: &mut Vec<Finding>,
    result: &mut ScanResult,
) -> Result<(), MatchError> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Package>> = BTreeMap::new();
    for p in packages {
        groups
            .entry((p.source_or_name(), p.source_version_or_version()))
            .or_default()
            .push(p);
    }
    for ((source, version), mut bins) in groups {
        if source == "linux" {
            let before = bins.len();
            bins.retain(|p| !kernel_headers_only(&p.name));
            result.hidden.kernel_headers += before - bins.len();
            if bins.is_empty() {
                continue;
            }
        }
        let advisories = lookup
            .advisories(key, source)
            .map_err(lookup_err(key, source))?;
        let mut seen = BTreeSet::new();
        for adv in &advisories {
            if !seen.insert(adv.id.clone()) {
                continue;
            }
            let verdict = evaluate(adv, key, version, true);
            let (status, fixed) = match verdict {
                Verdict::NotAffected => continue,
                Verdict::Unknown(w) => {
                    result.warnings.push(w);
                    continue;
                }
                Verdict::Affected { status, fixed } => (status, fixed),
            };
            let (severity, severity_source) = severity_of(adv);
            if status == Status::Undetermined && !opts.include_undetermined {
                result.hidden.undetermined += 1;
                continue;
            }
            if severity == Severity::Negligible && !opts.include_negligible {
                result.hidden.negligible += 1;
                continue;
            }
            if status == Status::WontFix
                && is_debian(adv)
                && !has_own_severity(adv)
                && !opts.include_debian_ignored
            {
                result.hidden.debian_ignored += 1;
                continue;
            }
            findings.push(finding(
                adv,
                key,
                source,
                version,
                status,
                fixed,
                severity,
                severity_source,
                &bins,
            ));
        }
    }
    Ok(())
}

/// The ecosystem key and the name to look up for a language package.
fn language_key(p: &Package) -> Option<(&'static str, String)> {
    match p.kind() {
        PackageKind::Go => Some(("go", p.name.clone())),
        PackageKind::Cargo => Some(("crates.io", p.name.clone())),
        PackageKind::Python => Some(("pypi", pep503(&p.name))),
        PackageKind::Npm => Some(("npm", p.name.clone())),
        _ => None,
    }
}

/// PEP 503: lower case, runs of `-`, `_`, `.` as one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A Go module or toolchain version as OSV writes it: no `v`/`go` prefix, `1.21` as
/// `1.21.0`, `go1.21rc2` as `1.21.0-rc.2`. `None` for `(devel)` and empty versions.
pub fn normalize_go_version(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('(') {
        return None;
    }
    let toolchain = v.starts_with("go");
    let v = v
        .strip_prefix("go")
        .or_else(|| v.strip_prefix('v'))
        .unwrap_or(v);
    if !toolchain {
        return Some(v.to_string());
    }
    // go1.21rc2, go1.20beta1, go1.21, go1.21.3
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (num, pre) = v.split_at(split);
    let mut parts: Vec<&str> = num.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if !pre.is_empty() {
        let digits = pre.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let word = &pre[..pre.len() - digits.len()];
        out.push('-');
        out.push_str(word);
        if !digits.is_empty() {
            out.push('.');
            out.push_str(digits);
        }
    }
    Some(out)
}

fn match_languages(
    sbom: &Sbom,
    ecosystems: &BTreeSet<String>,
    lookup: &dyn AdvisoryLookup,
    findings: &mut Vec<Finding>,
    warnings: &mut Vec<String>,
) -> Result<(), MatchError> {
    // (ecosystem, lookup name, compared version) -> packages
    let mut groups: BTreeMap<(&'static str, String, String), Vec<&Package>> = BTreeMap::new();
    let mut not_covered: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut unversioned = 0usize;
    for p in &sbom.packages {
        let Some((eco, name)) = language_key(p) else {
            continue;
        };
        let version = if eco == "go" {
            normalize_go_version(&p.version)
        } else {
            Some(p.version.trim().to_string()).filter(|v| !v.is_empty())
        };
        let Some(version) = version else {
            unversioned += 1;
            continue;
        };
        if !ecosystems.contains(eco) {
            *not_covered.entry(eco).or_default() += 1;
            continue;
        }
        groups.entry((eco, name, version)).or_default().push(p);
    }
    for (eco, n) in not_covered {
        warnings.push(format!(
            "{n} {eco} packages were not matched: the vulnerability database holds no {eco} advisories"
        ));
    }
    if unversioned > 0 {
        warnings.push(format!(
            "{unversioned} language packages have no comparable version (e.g. Go `(devel)` main modules) and were not matched"
        ));
    }
    for ((eco, name, version), bins) in groups {
        let mut advisories = lookup
            .advisories(eco, &name)
            .map_err(lookup_err(eco, &name))?;
        if let Some(raw) = bins
            .first()
            .map(|p| p.name.as_str())
            .filter(|raw| *raw != name)
        {
            advisories.extend(lookup.advisories(eco, raw).map_err(lookup_err(eco, raw))?);
        }
        let mut matched = Vec::new();
        for adv in &advisories {
            match evaluate(adv, eco, &version, false) {
                Verdict::NotAffected => {}
                Verdict::Unknown(w) => warnings.push(w),
                Verdict::Affected { status, fixed } => matched.push((adv, status, fixed)),
            }
        }
        for cluster in same_vulnerability(matched) {
            // The record that says most stands for the cluster: one with a severity of
            // its own, then the smallest ID; the others' IDs become aliases.
            let (adv, status, fixed) = cluster
                .iter()
                .min_by_key(|(a, _, _)| (!has_own_severity(a), a.id.clone()))
                .cloned()
                .expect("clusters are not empty");
            let (severity, severity_source) = severity_of(adv);
            let mut f = finding(
                adv,
                eco,
                &bins[0].name,
                &bins[0].version,
                status,
                fixed,
                severity,
                severity_source,
                &bins,
            );
            for (other, _, _) in &cluster {
                f.aliases.extend(
                    std::iter::once(&other.id)
                        .chain(&other.aliases)
                        .filter(|i| **i != f.id)
                        .cloned(),
                );
            }
            f.aliases.sort();
            f.aliases.dedup();
            findings.push(f);
        }
    }
    Ok(())
}

type Matched<'a> = (&'a Advisory, Status, Option<String>);

/// Groups matched advisories that name the same vulnerability (an ID of one is an ID
/// or alias of another: `GO-2023-2102` and `GHSA-4374-p667-p6c8`), in ID order.
fn same_vulnerability(mut matched: Vec<Matched<'_>>) -> Vec<Vec<Matched<'_>>> {
    matched.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let ids = |a: &Advisory| -> BTreeSet<String> {
        std::iter::once(&a.id)
            .chain(&a.aliases)
            .map(|s| s.to_ascii_uppercase())
            .collect()
    };
    let mut clusters: Vec<(BTreeSet<String>, Vec<Matched<'_>>)> = Vec::new();
    for m in matched {
        let mine = ids(m.0);
        let mut hits: Vec<usize> = clusters
            .iter()
            .enumerate()
            .filter(|(_, (known, _))| !known.is_disjoint(&mine))
            .map(|(i, _)| i)
            .collect();
        match hits.first().copied() {
            None => clusters.push((mine, vec![m])),
            Some(first) => {
                // Merge every other cluster this one links to into the first.
                while let Some(i) = hits.pop().filter(|&i| i != first) {
                    let (k, v) = clusters.remove(i);
                    clusters[first].0.extend(k);
                    clusters[first].1.extend(v);
                }
                clusters[first].0.extend(mine);
                clusters[first].1.push(m);
            }
        }
    }
    clusters.into_iter().map(|(_, v)| v).collect()
}

#[allow(clippy::too_many_arguments)]
fn finding(
    adv: &Advisory,
    ecosystem: &str,
    source: &str,
    version: &str,
    status: Status,
    fixed: Option<String>,
    severity: Severity,
    severity_source: String,
    bins: &[&Package],
) -> Finding {
    let mut packages: Vec<AffectedPackage> = bins
        .iter()
        .map(|p| AffectedPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            purl: p.purl.clone(),
            locations: p.locations.clone(),
        })
        .collect();
    packages.sort();
    packages.dedup();
    let mut aliases: Vec<String> = adv
        .aliases
        .iter()
        .filter(|a| **a != adv.id)
        .cloned()
        .collect();
    aliases.sort();
    aliases.dedup();
    Finding {
        id: adv.id.clone(),
        aliases,
        source_package: source.to_string(),
        installed_version: version.to_string(),
        fixed_version: fixed,
        status,
        severity,
        severity_source,
        cvss: adv.cvss.clone(),
        packages,
        ecosystem: ecosystem.to_string(),
        summary: adv.summary.clone(),
        data_source: data_source(adv, ecosystem),
        feed: adv.source.clone(),
        vex_status: None,
    }
}

/// The feed's page for an advisory.
pub fn data_source(adv: &Advisory, ecosystem: &str) -> String {
    let id = &adv.id;
    if is_debian(adv) {
        format!("https://security-tracker.debian.org/tracker/{id}")
    } else if ecosystem.starts_with("alpine:") || adv.source.starts_with("alpine") {
        format!("https://security.alpinelinux.org/vuln/{id}")
    } else if id.starts_with("GO-") {
        format!("https://pkg.go.dev/vuln/{id}")
    } else if id.starts_with("RUSTSEC-") {
        format!("https://rustsec.org/advisories/{id}.html")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}

enum Verdict {
    Affected {
        status: Status,
        fixed: Option<String>,
    },
    NotAffected,
    /// Could not decide (a version that does not parse): a warning.
    Unknown(String),
}

/// Whether `version` is affected by `adv`. `distro` advisories (Debian, Alpine) with
/// an affected status and no ranges affect every version; OSV ones affect only what
/// their ranges or version list say.
fn evaluate(adv: &Advisory, ecosystem: &str, version: &str, distro: bool) -> Verdict {
    let status = adv.status.clone();
    match status {
        Status::NotAffected => return Verdict::NotAffected,
        Status::Fixed if adv.ranges.is_empty() && adv.versions.is_empty() => {
            return if distro {
                Verdict::Unknown(format!(
                    "{} for {} in {ecosystem} is marked fixed without a fixed version; not matched",
                    adv.id, adv.package
                ))
            } else {
                Verdict::NotAffected
            };
        }
        _ if adv.ranges.is_empty() && adv.versions.is_empty() => {
            return if distro {
                Verdict::Affected {
                    status,
                    fixed: None,
                }
            } else {
                Verdict::NotAffected
            };
        }
        _ => {}
    }
    let unknown = |other: &str| {
        Verdict::Unknown(format!(
            "{}: cannot compare {} version {version:?} with {other:?}; not matched",
            adv.id, adv.package
        ))
    };
    for v in &adv.versions {
        match cmp_versions(ecosystem, version, v) {
            Some(Ordering::Equal) => {
                return Verdict::Affected {
                    status: if status == Status::Fixed {
                        Status::Open
                    } else {
                        status
                    },
                    fixed: None,
                };
            }
            Some(_) => {}
            None if v == version => {
                return Verdict::Affected {
                    status: if status == Status::Fixed {
                        Status::Open
                    } else {
                        status
                    },
                    fixed: None,
                };
            }
            None => {}
        }
    }
    for r in &adv.ranges {
        match in_range(r, ecosystem, version) {
            Err(other) => return unknown(&other),
            Ok(false) => {}
            Ok(true) => {
                let fixed = r.fixed.clone().filter(|f| !f.is_empty() && f != "0");
                let status = match (&status, &fixed) {
                    (Status::Fixed, None) => Status::Open,
                    (Status::Open, Some(_)) if !distro => Status::Fixed,
                    _ => status.clone(),
                };
                return Verdict::Affected { status, fixed };
            }
        }
    }
    Verdict::NotAffected
}

/// `introduced <= v < fixed` or `introduced <= v <= last_affected`; `Err` names a
/// version that could not be compared.
fn in_range(r: &Range, ecosystem: &str, v: &str) -> Result<bool, String> {
    let cmp = |other: &str| cmp_versions(ecosystem, v, other).ok_or_else(|| other.to_string());
    if let Some(intro) = r
        .introduced
        .as_deref()
        .filter(|i| !i.is_empty() && *i != "0")
        && cmp(intro)? == Ordering::Less
    {
        return Ok(false);
    }
    if let Some(fixed) = r.fixed.as_deref().filter(|f| !f.is_empty()) {
        if fixed == "0" {
            return Ok(false);
        }
        return Ok(cmp(fixed)? == Ordering::Less);
    }
    if let Some(last) = r.last_affected.as_deref().filter(|l| !l.is_empty()) {
        return Ok(cmp(last)? != Ordering::Greater);
    }
    Ok(true)
}

/// Whether the advisory carries a severity of its own (Debian: an urgency).
fn has_own_severity(adv: &Advisory) -> bool {
    matches!(adv.severity, Some(s) if s != Severity::Unknown)
}

/// The severity of a finding and where it came from.
fn severity_of(adv: &Advisory) -> (Severity, String) {
    if let Some(s) = adv.severity.filter(|s| *s != Severity::Unknown) {
        let source = adv.severity_source.clone().unwrap_or_else(|| {
            if is_debian(adv) {
                "debian urgency".to_string()
            } else {
                adv.source.clone()
            }
        });
        return (s, source);
    }
    if let Some(score) = adv.cvss.as_deref().and_then(cvss_score) {
        return (
            severity_from_score(score),
            format!("CVSS {score:.1} ({})", adv.source),
        );
    }
    (Severity::Unknown, "none".to_string())
}

/// CVSS qualitative rating of a base score (0.0 reads as negligible).
pub fn severity_from_score(score: f64) -> Severity {
    crate::import::cvss::severity_of_score(score)
}

/// A CVSS base score from a number or a CVSS v3.x vector (v2 and v4 vectors: `None`).
pub fn cvss_score(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return (0.0..=10.0).contains(&n).then_some(n);
    }
    crate::import::cvss::base_score_v3(text)
}

/// Orders two versions of `ecosystem` in its scheme (dpkg, apk, Go, semver, PEP 440);
/// `None` when either does not parse. The one place the matcher compares versions.
fn cmp_versions(ecosystem: &str, a: &str, b: &str) -> Option<Ordering> {
    crate::version::compare(crate::version::scheme_for(ecosystem), a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_keys() {
        let d = |id: &str, v: Option<&str>, c: Option<&str>| Distro {
            id: id.into(),
            version_id: v.map(Into::into),
            codename: c.map(Into::into),
            ..Default::default()
        };
        assert_eq!(
            release_key(&d("debian", Some("12"), None)).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", Some("12.11"), None)).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("bookworm"))).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("trixie"))).unwrap(),
            "debian:13"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("bullseye"))).unwrap(),
            "debian:11"
        );
        assert_eq!(release_key(&d("debian", None, None)), None);
        assert_eq!(
            release_key(&d("alpine", Some("3.20.3"), None)).unwrap(),
            "alpine:3.20"
        );
        assert_eq!(
            release_key(&d("alpine", Some("3.21_alpha20240807"), None)).unwrap(),
            "alpine:3.21"
        );
        assert_eq!(release_key(&d("alpine", Some("edge"), None)), None);
    }

    #[test]
    fn go_versions_normalise_like_osv() {
        assert_eq!(normalize_go_version("go1.19.8").unwrap(), "1.19.8");
        assert_eq!(normalize_go_version("v1.19.8").unwrap(), "1.19.8");
        assert_eq!(normalize_go_version("go1.21").unwrap(), "1.21.0");
        assert_eq!(normalize_go_version("go1.21rc2").unwrap(), "1.21.0-rc.2");
        assert_eq!(
            normalize_go_version("v0.0.0-20220101-abcdef").unwrap(),
            "0.0.0-20220101-abcdef"
        );
        assert_eq!(normalize_go_version("(devel)"), None);
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Django"), "django");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("typing__extensions"), "typing-extensions");
    }

    #[test]
    fn cvss_v31_scores_match_the_calculator() {
        // NVD's scores for these vectors.
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"),
            Some(8.8)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.5)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"),
            Some(3.1)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(cvss_score("7.5"), Some(7.5));
        assert_eq!(
            cvss_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            None
        );
        assert_eq!(severity_from_score(9.8), Severity::Critical);
        assert_eq!(severity_from_score(3.1), Severity::Low);
        assert_eq!(cvss_score("11"), None);
    }

    #[test]
    fn versions_order_per_ecosystem() {
        use std::cmp::Ordering::*;
        assert_eq!(cmp_versions("go", "1.19.8", "1.19.10"), Some(Less));
        assert_eq!(cmp_versions("go", "1.21.0-rc.2", "1.21.0"), Some(Less));
        assert_eq!(cmp_versions("npm", "v2.0.0", "2.0.0"), Some(Equal));
        assert_eq!(
            cmp_versions("alpine:3.20", "1.3.1-r1", "1.3.1-r2"),
            Some(Less)
        );
        assert_eq!(
            cmp_versions("alpine:3.20", "1.2.2_pre2-r0", "1.2.2-r0"),
            Some(Less)
        );
        assert_eq!(
            cmp_versions("alpine:3.20", "1.36.1-r29", "1.36.1-r31"),
            Some(Less)
        );
        assert_eq!(
            cmp_versions("debian:12", "1:1.2.13.dfsg-1", "1:1.3.dfsg-2"),
            Some(Less)
        );
        assert_eq!(
            cmp_versions("debian:12", "2.36-9+deb12u9", "2.36-9+deb12u13"),
            Some(Less)
        );
    }
}
