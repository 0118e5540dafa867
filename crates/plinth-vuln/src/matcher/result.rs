//! What a scan gives: [`ScanResult`] with its findings, counts and what the default
//! rules hid; [`MatchOptions`] and [`MatchError`].

use plinth_sbom::Distro;
use serde::Serialize;

use super::{Finding, Suppressed};
use crate::model::Severity;

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
    UnknownRelease {
        /// Why the release is unknown (no os-release, no version or known codename).
        reason: String,
        /// How many OS packages the SBOM lists.
        os_packages: usize,
    },
    /// The advisory store failed.
    #[error("looking up advisories for {package} in {ecosystem}: {message}")]
    Lookup {
        /// The ecosystem key looked in (`debian:12`, `go`, …).
        ecosystem: String,
        /// The package looked up.
        package: String,
        /// The store's error, with its causes.
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
    /// The kebab-case name used in JSON and reports (`end-of-life`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Supported => "supported",
            ReleaseStatus::EndOfLife => "end-of-life",
            ReleaseStatus::Unsupported => "unsupported",
            ReleaseStatus::NoOs => "no-os",
        }
    }
}

/// Findings per severity (after suppression).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Findings of [`Severity::Critical`].
    pub critical: usize,
    /// Findings of [`Severity::High`].
    pub high: usize,
    /// Findings of [`Severity::Medium`].
    pub medium: usize,
    /// Findings of [`Severity::Low`].
    pub low: usize,
    /// Findings of [`Severity::Negligible`].
    pub negligible: usize,
    /// Findings of [`Severity::Unknown`].
    pub unknown: usize,
    /// All findings reported (the sum of the above).
    pub total: usize,
    /// Findings taken out by ignore rules or VEX statements, not in `total`.
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
    /// The database file, as displayed.
    pub path: String,
    /// How many advisory records it holds.
    pub advisories: u64,
    /// When the stalest source was imported (RFC 3339): the data is at least this old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_import: Option<String>,
    /// Every source imported into it.
    pub sources: Vec<crate::model::SourceInfo>,
}

/// The outcome of [`scan`](super::scan).
#[derive(Clone, Debug, Serialize)]
pub struct ScanResult {
    /// The scanned subject's name.
    pub subject: String,
    /// The image's manifest digest, from the SBOM; `None` for other subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The operating system the SBOM records; `None` when it found none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// The ecosystem key of the OS release, e.g. `debian:12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    /// Whether the OS packages could be matched against the release.
    pub release_status: ReleaseStatus,
    /// Why the release was not matched, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_note: Option<String>,
    /// The database the advisories came from (set by the caller that opened it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
    /// Findings per severity, after suppression.
    pub counts: Counts,
    /// What the default rules left out.
    pub hidden: Hidden,
    /// Sorted by severity (highest first), then ID, then package.
    pub findings: Vec<Finding>,
    /// Findings taken out by ignore rules or VEX statements, sorted like `findings`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// Things the user should know: versions that could not be compared, SBOM
    /// warnings, expired or unused ignore rules.
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
