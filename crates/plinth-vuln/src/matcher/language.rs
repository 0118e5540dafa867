//! Language packages (Go, crates.io, PyPI, npm): matched by name against OSV ranges
//! and version lists; records that name the same vulnerability become one finding.

use std::collections::{BTreeMap, BTreeSet};

use plinth_sbom::{Package, PackageKind, Sbom};

use super::evaluate::{Verdict, evaluate};
use super::finding::{finding, same_vulnerability};
use super::lookup::lookup_err;
use super::normalize::{normalize_go_version, pep503};
use super::severity::{has_own_severity, severity_of};
use super::{AdvisoryLookup, Finding, MatchError};

/// The ecosystem key and the name to look up for a language package.
pub(super) fn language_key(p: &Package) -> Option<(&'static str, String)> {
    match p.kind() {
        PackageKind::Go => Some(("go", p.name.clone())),
        PackageKind::Cargo => Some(("crates.io", p.name.clone())),
        PackageKind::Python => Some(("pypi", pep503(&p.name))),
        PackageKind::Npm => Some(("npm", p.name.clone())),
        _ => None,
    }
}

pub(super) fn match_languages(
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
