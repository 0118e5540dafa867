//! [`Finding`]s: one vulnerability in one (source) package, built from a matched
//! advisory; advisories that name the same vulnerability become one finding.

use std::collections::BTreeSet;

use plinth_sbom::Package;
use serde::Serialize;

use crate::model::{Advisory, Severity, Status};

/// One package a finding covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AffectedPackage {
    /// The package name as installed (a Debian binary package, a module path, …).
    pub name: String,
    /// Its installed version.
    pub version: String,
    /// Its package URL, as the SBOM records it.
    pub purl: String,
    /// Where the package was found (no leading `/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
}

/// One vulnerability in one (source) package.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The advisory id (`CVE-…`, `GHSA-…`); when several advisories name the same
    /// vulnerability, the id of the one that stands for them (one with a severity of
    /// its own, then the smallest id).
    pub id: String,
    /// The other ids of the same vulnerability, sorted, without `id`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Debian: the source package; Alpine: the origin; others: the package name.
    pub source_package: String,
    /// The version compared: the source version for distributions.
    pub installed_version: String,
    /// The first version with the fix, in the same scheme; `None` when no fix is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The advisory's status for this version (`fixed` = a fix exists, `open`, …).
    pub status: Status,
    /// How bad it is; [`Severity::Unknown`] when no source rates it.
    pub severity: Severity,
    /// Where the severity came from: `debian urgency`, `CVSS_V3 (osv)`, `none`, …
    pub severity_source: String,
    /// The advisory's CVSS vector or score, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The binary packages it covers, sorted.
    pub packages: Vec<AffectedPackage>,
    /// `debian:12`, `alpine:3.20`, `go`, …
    pub ecosystem: String,
    /// The advisory's short description, when it has one.
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
    pub(super) fn sort_key(
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
            cve_order(&self.id),
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
    /// Why: the ignore rule's reason (with its expiry), or each VEX statement's
    /// `status: justification (impact) [document id]`, `; `-separated.
    pub reason: String,
    /// The OpenVEX status that suppressed it (`not_affected`, `fixed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex_status: Option<String>,
    /// The OpenVEX justification label, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The finding as it was before it was taken out.
    pub finding: Finding,
}

/// Orders CVE ids by year, then number (`CVE-2024-9143` before `CVE-2024-13176`).
pub fn cve_order(id: &str) -> (u32, u64, &str) {
    let mut parts = id.splitn(3, '-').skip(1);
    let mut num = || {
        parts
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    let year = num().min(u64::from(u32::MAX)) as u32;
    (year, num(), id)
}

pub(super) fn is_debian(adv: &Advisory) -> bool {
    adv.source.starts_with("debian") || adv.ecosystem.starts_with("debian:")
}

type Matched<'a> = (&'a Advisory, Status, Option<String>);

/// Groups matched advisories that name the same vulnerability (an ID of one is an ID
/// or alias of another: `GO-2023-2102` and `GHSA-4374-p667-p6c8`), in ID order.
pub(super) fn same_vulnerability(mut matched: Vec<Matched<'_>>) -> Vec<Vec<Matched<'_>>> {
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
pub(super) fn finding(
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
