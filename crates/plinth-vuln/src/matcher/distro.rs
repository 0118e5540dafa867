//! Distribution packages (Debian, Alpine): matched by source package and source
//! version, one finding per (source, version, advisory) listing every binary it covers.

use std::collections::{BTreeMap, BTreeSet};

use plinth_sbom::Package;

use super::evaluate::{Verdict, evaluate};
use super::finding::{finding, is_debian};
use super::lookup::lookup_err;
use super::release::kernel_headers_only;
use super::severity::{has_own_severity, severity_of};
use super::{AdvisoryLookup, Finding, MatchError, MatchOptions, ScanResult};
use crate::model::{Severity, Status};

pub(super) fn match_distro(
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
