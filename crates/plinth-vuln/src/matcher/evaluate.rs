//! Whether one version is affected by one advisory: its status, exact versions and
//! ranges, compared in the ecosystem's version scheme.

use std::cmp::Ordering;

use crate::model::{Advisory, Range, Status};

pub(super) enum Verdict {
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
pub(super) fn evaluate(adv: &Advisory, ecosystem: &str, version: &str, distro: bool) -> Verdict {
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
pub(super) fn in_range(r: &Range, ecosystem: &str, v: &str) -> Result<bool, String> {
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

/// Orders two versions of `ecosystem` in its scheme (dpkg, apk, Go, semver, PEP 440);
/// `None` when either does not parse. The one place the matcher compares versions.
pub(super) fn cmp_versions(ecosystem: &str, a: &str, b: &str) -> Option<Ordering> {
    crate::version::compare(crate::version::scheme_for(ecosystem), a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
