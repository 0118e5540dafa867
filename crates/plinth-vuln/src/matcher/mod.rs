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

//!
//! # Modules
//!
//! | module | holds |
//! |---|---|
//! | `lookup` | where advisories come from |
//! | `result` | the scan's result, options and errors |
//! | `finding` | findings, built from matched advisories |
//! | `release` | release keys and coverage |
//! | `distro` | matching distribution packages |
//! | `language` | matching language packages |
//! | `normalize` | package names and versions as the feeds write them |
//! | `evaluate` | one version against one advisory |
//! | `severity` | a finding's severity and its source |

mod distro;
mod evaluate;
mod finding;
mod language;
mod lookup;
mod normalize;
mod release;
mod result;
mod severity;

use std::collections::BTreeSet;

use plinth_sbom::{Package, Sbom};

use distro::match_distro;
use language::match_languages;
use release::{os_kind, release_status};

pub use finding::{AffectedPackage, Finding, Suppressed, cve_order, data_source};
pub use lookup::{AdvisoryLookup, MemoryStore};
pub use normalize::{normalize_go_version, pep503};
pub use release::{kernel_headers_only, release_key};
pub use result::{
    Counts, DatabaseInfo, Hidden, MatchError, MatchOptions, ReleaseStatus, ScanResult,
};
pub use severity::{cvss_score, severity_from_score};

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
